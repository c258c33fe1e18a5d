"""Errors a stack author can act on reach `pulumi` as one line.

Pulumi's dynamic-provider host (`python -m pulumi.dynamic`, pulumi/dynamic/__main__.py) reports every
exception a provider raises with `traceback.format_exc()` (its `_abort_with_traceback`), so a message written
for the user arrives under the provider process's stack frames. The host offers no hook for this, so this
module is the one place that relies on its internals: in the provider process, it gives the host's module a
`traceback` whose `format_exc` returns the message alone for an ActionableError, and the whole traceback for
anything else (a bug keeps its frames). tests/contract/test_one_line_errors.py is the canary: it fails,
naming this module, when a Pulumi release changes what this relies on.
"""

import sys
import traceback
from typing import Any

HOST_MODULE = "pulumi.dynamic.__main__"
"""The module `python -m pulumi.dynamic` runs as `__main__`."""


class ActionableError(Exception):
    """An error whose message says what went wrong and what to do; shown as that message, on one line."""


class HostTraceback:
    """Stands in for the `traceback` module inside the host; only `format_exc` differs."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, ActionableError):
            return " ".join(str(error).split())
        return traceback.format_exc(limit, chain)


def install() -> bool:
    """In a dynamic-provider process, make the host show ActionableErrors as their message. True when that is
    in place; False elsewhere (a program, a test), or when the host is not the one this was written for."""
    host = sys.modules.get("__main__")
    spec = getattr(host, "__spec__", None)
    if getattr(spec, "name", None) != HOST_MODULE or not hasattr(host, "_abort_with_traceback"):
        return False
    if not isinstance(getattr(host, "traceback", None), HostTraceback):
        # The host module, as checked above: mypy does not narrow `None` away on hasattr.
        host.traceback = HostTraceback()  # type: ignore[union-attr]
    return True

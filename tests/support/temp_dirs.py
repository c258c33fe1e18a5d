"""The suite's own temporary directories, `<tmp>/rpa-platform-<what>-*`, for what cannot live in a test's
tmp_path (a server shared by a package or the session, one a context manager starts). Whoever makes one removes
it, also when its test fails; each is remembered, so that the session's end names any that was not."""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_made: list[Path] = []


def make_temp_dir(what: str) -> Path:
    """One its maker removes with remove_temp_dir (temp_dir does both)."""
    path = Path(tempfile.mkdtemp(prefix=f"rpa-platform-{what}-"))
    _made.append(path)
    return path


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # what it could not remove is named at the session's end


@contextmanager
def temp_dir(what: str) -> Iterator[Path]:
    path = make_temp_dir(what)
    try:
        yield path
    finally:
        remove_temp_dir(path)


def left_behind() -> list[Path]:
    return [path for path in _made if path.exists()]

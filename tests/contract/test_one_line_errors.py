"""The canary for infra/prefect_resources/one_line_errors.py, the one place that relies on an internal of
Pulumi's dynamic-provider host: an error a stack author can act on arrives as its message alone, while any
other exception (a bug) keeps its whole traceback. When a Pulumi upgrade breaks this, these fail and say why."""

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from pulumi.dynamic.dynamic import serialize_provider

from infra.prefect_resources import one_line_errors
from infra.prefect_resources.work_pool import WorkPoolProvider
from tests.support.provider_protocol import DynamicProviderProcess, EngineStack, ProviderError

pytestmark = pytest.mark.usefixtures("prefect_server")

RELIES_ON = (
    "infra/prefect_resources/one_line_errors.py relies on pulumi/dynamic/__main__.py (run as "
    f"`python -m pulumi.dynamic`, i.e. {one_line_errors.HOST_MODULE}) reporting provider exceptions through a "
    "module-level `traceback.format_exc()` inside `_abort_with_traceback`. This Pulumi release changed that: "
    "find how its dynamic-provider host now reports errors and adapt that module (errors would otherwise "
    "reach users as tracebacks again)."
)


def test_the_host_still_formats_errors_where_the_module_expects() -> None:
    spec = find_spec(one_line_errors.HOST_MODULE)
    assert spec is not None and spec.origin is not None, RELIES_ON
    source = Path(spec.origin).read_text()
    assert "def _abort_with_traceback(" in source, RELIES_ON
    assert "import traceback" in source and "traceback.format_exc()" in source, RELIES_ON
    assert source.count("@_abort_with_traceback") >= 5, RELIES_ON  # Check, Diff, Create, Read, Update, Delete


def test_an_actionable_error_arrives_as_its_message_alone(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    name = f"ct-{unique}-canary"
    client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    try:
        with pytest.raises(ProviderError) as raised:
            engine("WorkPool", WorkPoolProvider()).up({"name": name, "type": "process"})
    finally:
        client.delete_work_pool(name)
    assert str(raised.value).startswith(f"work pool '{name}' already exists on the Prefect server"), RELIES_ON
    assert "\n" not in str(raised.value), RELIES_ON


def test_a_bug_keeps_its_traceback(provider_process: DynamicProviderProcess) -> None:
    urn = "urn:pulumi:test::rpa-platform::pulumi-python:dynamic/prefect:WorkPool::bug"
    without_a_name = {"type": "process", "__provider": serialize_provider(WorkPoolProvider())}
    with pytest.raises(ProviderError) as raised:
        provider_process.create(urn, without_a_name)  # The engine would have refused it at Check.
    assert str(raised.value).startswith("Traceback (most recent call last):")
    assert "ValidationError" in str(raised.value)

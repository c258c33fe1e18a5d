"""What `pulumi preview` and a no-op `pulumi up` do to the server: nothing."""

from collections.abc import Callable
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from pulumi.runtime.rpc import UNKNOWN

from infra import config_keys
from infra.prefect_resources.provider import has_unknown
from infra.prefect_resources.work_pool import WorkPoolProvider
from infra.prefect_resources.work_queue import WorkQueueProvider
from tests.support.prefect_server import free_port
from tests.support.provider_protocol import PROVIDER_KEY, DynamicProviderProcess, EngineStack

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_no_op_up_writes_nothing(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    pool = {
        "name": f"ct-{unique}-noop",
        "type": "docker",
        "concurrencyLimit": 2,
        "jobDefaults": {"image": "x:1"},
    }
    stack = engine("WorkPool", WorkPoolProvider())
    stack.up(pool)
    before = client.read_work_pool(pool["name"])
    calls_before = len(stack.provider.calls)

    assert stack.up(pool) == "same"
    assert stack.provider.calls[calls_before:] == ["Check", "Diff"]
    assert client.read_work_pool(pool["name"]).updated == before.updated


def test_diff_needs_no_server(tmp_path: Path, unique: str) -> None:
    """Diff compares parsed inputs locally: with the API unreachable it still answers, so it cannot write."""
    process = DynamicProviderProcess(log_path=tmp_path / "provider.log")
    process.start()
    try:
        process.configure({config_keys.qualified(config_keys.API_URL): f"http://127.0.0.1:{free_port()}/api"})
        stack = EngineStack(process, "WorkPool", "offline", WorkPoolProvider())
        pool = stack.program_inputs(
            {"name": f"ct-{unique}-offline", "type": "process", "concurrencyLimit": 2}
        )
        checked, failures = process.check(stack.urn, {}, pool)
        assert not failures
        reordered = {key: checked[key] for key in reversed(list(checked))}
        reordered["concurrencyLimit"] = 2.0  # Numbers arrive as floats.
        diff = process.diff(stack.urn, "some-id", checked, reordered)
        assert diff.changes == diff.DIFF_NONE
    finally:
        process.stop()


def test_preview_with_values_not_yet_known(provider_process: DynamicProviderProcess, unique: str) -> None:
    """In a preview, a queue's pool name is unknown until the pool exists: check must not fail on it and
    diff must report a change, not guess."""
    stack = EngineStack(provider_process, "WorkQueue", "preview", WorkQueueProvider())
    news = stack.program_inputs({"name": "critical", "workPoolName": UNKNOWN, "concurrencyLimit": 1})
    checked, failures = provider_process.check(stack.urn, {}, news)
    assert failures == []
    assert has_unknown(checked["workPoolName"])

    olds = {
        "name": "critical",
        "workPoolName": f"ct-{unique}-pool",
        "concurrencyLimit": 1,
        PROVIDER_KEY: news[PROVIDER_KEY],
    }
    diff = provider_process.diff(stack.urn, "some-id", olds, news)
    assert diff.changes == diff.DIFF_SOME
    assert list(diff.replaces) == ["workPoolName"]

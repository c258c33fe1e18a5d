"""A stack whose erp-api limit is adaptive: an rpa3 flow run, in its own process, learns the ERP's lowered
capacity from its 429s, never exceeds the stack's limit, and climbs back once the ERP recovers; its metrics
table and its events say so."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate

from flows.runtime import metrics_artifact as table
from rpa_naming import ERP_API, adaptive_floor_variable_name
from tests.flows.run_records import metrics_of, wait_for_events
from tests.flows.stack import ENVIRONMENT, finish, flow_runs_since, set_flow_variables
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour

LIMIT = 6  # the stack's erp-api limit: the ceiling
CAPACITY = 2  # what the ERP takes while it is degraded
ITEMS = 200
# Calls the degraded ERP accepts after it first pushed back, before it recovers: three Retry-After waits
# (1 s) of calls at its capacity, so the run meets its refusals more than once however slowly it started.
DEGRADED_CALLS = 60
LATENCY_SECONDS = 0.1
ERP = "erp"


@pytest.fixture
def adaptive_erp_api(prefect_server: object) -> Iterator[None]:
    """The environment's Variable that makes erp-api adaptive, from a floor of 1; removed afterwards: every
    stack of the environment reads it."""
    name = adaptive_floor_variable_name(ENVIRONMENT, ERP_API)
    with get_client(sync_client=True) as client:
        client.create_variable(VariableCreate(name=name, value=1))
    try:
        yield
    finally:
        with get_client(sync_client=True) as client:
            client.delete_variable_by_name(name)


def test_the_run_learns_a_lowered_capacity_within_the_limit_and_climbs_back(
    adaptive_erp_api, new_stack, demo_erp
):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=LATENCY_SECONDS, max_concurrency=CAPACITY))
    stack = new_stack(erp_api=LIMIT, erp_api_rate=(1000, 1000.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=LIMIT, timeout_seconds=300)
    started = datetime.now(UTC)
    recovery = threading.Thread(target=_recover_after, args=(admin, DEGRADED_CALLS), daemon=True)
    recovery.start()

    code, output = finish(stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}"))

    assert code == 0, output
    stats = admin.stats()
    assert stats.highest_concurrency <= LIMIT  # the stack's limit stays the hard ceiling
    assert stats.rejected_for_concurrency >= 1  # the ERP did push back while degraded
    [run] = flow_runs_since("rpa3", started)
    metrics = metrics_of(run.id)
    assert metrics[(table.ITEMS_DONE, "")] == ITEMS
    assert metrics[(table.ITEMS_FAILED, "")] == 0
    first, lowest, last = (
        metrics[(table.ADAPTIVE_TARGET.format(k), ERP)] for k in ("first", "lowest", "last")
    )
    assert first == LIMIT
    assert (
        lowest is not None and lowest <= CAPACITY + 1
    )  # converged below the lowered capacity (plus a probe)
    assert last is not None and last >= lowest + 2  # and climbed back once the ERP recovered
    assert metrics[(table.ADAPTIVE_CHANGES.format("429"), ERP)] >= 1
    assert metrics[(table.ADAPTIVE_CHANGES.format("success"), ERP)] >= 2

    events = wait_for_events(run.id, started, {"rpa.adaptive.changed"})
    changed = [event for event in events if event.event == "rpa.adaptive.changed"]
    assert {event.resource.id for event in changed} == {f"rpa.service.{ERP}"}
    assert min(event.payload["lowest"] for event in changed) == lowest
    assert changed[-1].payload["target"] == last


def _recover_after(admin: DemoErpAdmin, accepted: int) -> None:
    """Give the ERP its capacity back once it has accepted that many calls since it first pushed back."""
    deadline = time.monotonic() + 300  # a bound on a hang: the run fails on its own if it never gets there
    pushed_back_at: int | None = None  # calls accepted when the first 429 was seen
    while time.monotonic() < deadline:
        stats = admin.stats()
        if pushed_back_at is None and stats.rejected_for_concurrency:
            pushed_back_at = stats.accepted
        if pushed_back_at is not None and stats.accepted >= pushed_back_at + accepted:
            break
        time.sleep(0.05)
    admin.configure(ErpBehaviour(latency_seconds=LATENCY_SECONDS))

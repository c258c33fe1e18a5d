"""The Prefect server is SIGKILLed while flow runs go on, and restarted about 15 s later on the same port and
home. The outage is told once: one WARNING naming the server, one INFO when it answers again, no ERROR, where
every slot pool, rate limiter and Prefect's events client and worker said so on each failed call before
(about 40 WARNING lines and an ERROR per run). The events the runtime sent meanwhile reach the server
afterwards: Prefect's events client keeps them and sends them again once it has reconnected."""

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.events.filters import EventFilter, EventOccurredFilter, EventResourceFilter
from prefect.events.schemas.events import ReceivedEvent

from flows.runtime import Deadline, FlowRuntime, RunMetrics
from flows.runtime.rate_limiter import RateLimiter
from flows.runtime.runtime_events import RuntimeEvents, service_resource
from tests.flows.stack import (
    fail_if_any_ended,
    fail_killing,
    finish_all,
    flow_runs_since,
    set_flow_variables,
)
from tests.support.prefect_server import PrefectServer
from tools.demo_erp.behaviour import ErpBehaviour

# Down for this long before the restart begins, which takes a few seconds more: about 15 s in all.
DOWN_SECONDS = 10
BACK_BOUND_SECONDS = 30  # a bound on a hang: told within 2 s of the server answering on a quiet machine
EVENTS_BOUND_SECONDS = 60
CALL_BOUND_SECONDS = 300  # a task's wait for its token: outlasts the outage
BACK = "answers again, after"
LOUD = re.compile(r"\| (WARNING|ERROR|CRITICAL) +\|")  # a line of Prefect's console format at that level


def outage(server: PrefectServer) -> float:
    """Kill the server, leave it down, start it again: how long it did not answer."""
    killed_at = time.monotonic()
    server.kill()
    time.sleep(DOWN_SECONDS)
    server.start()
    return time.monotonic() - killed_at


@contextmanager
def calls_under_way(limiter: RateLimiter, threads: int = 3) -> Iterator[None]:
    """Tasks taking tokens (each with a slot) one after the other, so the limiter and its slot pool keep
    asking the server throughout; they finish their last wait when the context ends."""
    stop = threading.Event()

    def call() -> None:
        while not stop.is_set():
            with limiter.wait_for_token(Deadline.after(CALL_BOUND_SECONDS)):
                time.sleep(0.05)

    workers = [threading.Thread(target=call, name=f"task-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(CALL_BOUND_SECONDS)


def events_about(resource_id: str, since: datetime) -> list[ReceivedEvent]:
    event_filter = EventFilter(
        occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(minutes=1)),
        resource=EventResourceFilter(id=[resource_id]),
    )
    with get_client(sync_client=True) as client:
        return client.read_events(filter=event_filter, limit=50).events


@pytest.mark.slow  # an outage of about 15 s, and Prefect's events client gives up on an event after about 8
def test_an_outage_is_one_warning_and_one_info_and_the_events_sent_meanwhile_arrive(
    own_server, new_stack, caplog
):
    server = own_server()
    stack = new_stack(erp_api=1, erp_api_rate=(2, 4.0))
    caplog.set_level(logging.INFO)
    caplog.set_level(
        logging.INFO, logger="prefect"
    )  # the session logs Prefect's at WARNING (tests/conftest.py)
    # Prefect's events worker logs its failures here, a logger that does not propagate to the root.
    internal = logging.getLogger("prefect._internal")
    internal.addHandler(caplog.handler)
    service = f"outage-{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC)
    events = RuntimeEvents(RunMetrics(), [])  # sent as the runtime sends its own: Prefect's emit_event
    try:
        with FlowRuntime.open(stack.settings(), concurrency=["erp-api"], rates=["erp-api-rate"]) as runtime:
            limiter = runtime.rate("erp-api-rate", "erp-api")
            with limiter.wait_for_token(Deadline.after(CALL_BOUND_SECONDS)):
                pass  # under way: the pool holds a lease, the limiter has taken tokens
            with calls_under_way(limiter):
                first = len(caplog.records)
                threading.Timer(0.5, events.breaker_opened, [service]).start()  # sent while it is down
                down_seconds = outage(server)
                deadline = time.monotonic() + BACK_BOUND_SECONDS
                while not any(BACK in record.getMessage() for record in caplog.records[first:]):
                    loud = sum(record.levelno >= logging.WARNING for record in caplog.records[first:])
                    assert time.monotonic() < deadline, (
                        f"no {BACK!r} in {BACK_BOUND_SECONDS} s; {loud} WARNING+"
                    )
                    time.sleep(0.2)
                events.breaker_closed(service)
        events.close()
    finally:
        internal.removeHandler(caplog.handler)

    during = caplog.records[first:]
    loud = [record for record in during if record.levelno >= logging.WARNING]
    back = [record for record in during if BACK in record.getMessage()]
    print(f"server down {down_seconds:.1f} s: {len(loud)} WARNING+ lines, {len(back)} back")
    assert [(record.levelno, server.api_url in record.getMessage()) for record in loud] == [
        (logging.WARNING, True)
    ], [record.getMessage() for record in loud]
    assert [(record.levelno, server.api_url in record.getMessage()) for record in back] == [
        (logging.INFO, True)
    ]

    resource_id = service_resource(service)["prefect.resource.id"]
    deadline = time.monotonic() + EVENTS_BOUND_SECONDS
    while {event.event for event in events_about(resource_id, since)} != {
        "rpa.breaker.opened",
        "rpa.breaker.closed",
    }:
        assert time.monotonic() < deadline, (
            f"{events_about(resource_id, since)} after {EVENTS_BOUND_SECONDS} s"
        )
        time.sleep(0.5)


RUNS = 2
ITEMS = 200  # about 25 s of calls at the ERP's rate: under way before the outage, and after it
UNDER_WAY_BOUND_SECONDS = 300


def runs_with_logs(since: datetime) -> set[UUID]:
    """The rpa3 flow runs started since then whose logs have reached the server."""
    started = [run.id for run in flow_runs_since("rpa3", since)]
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=started)))
    return {log.flow_run_id for log in logs if log.flow_run_id is not None}


@pytest.mark.slow  # two flow runs of about a minute, with an outage of about 15 s in the middle
def test_a_flow_run_tells_an_outage_in_one_warning_and_one_info(own_server, new_stack, demo_erp, monkeypatch):
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")  # Prefect's default, which the session lowers
    server = own_server()
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.2, max_concurrency=4, rate_per_second=8, rate_burst=4))
    stack = new_stack(erp_api=4, erp_api_rate=(4, 8.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=4, timeout_seconds=300)  # outlasts the outage
    since = datetime.now(UTC)
    runs = [
        stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=O{run}") for run in range(RUNS)
    ]
    # Every run at work first, and its logs on the server: Prefect's client resends a request that could not
    # connect only once it has connected (a run still creating its subflow would fail; a log worker that had
    # sent nothing yet writes "--- Error logging to API ---" to stderr and drops the batch).
    deadline = time.monotonic() + UNDER_WAY_BOUND_SECONDS
    while len(admin.stats().callers) < RUNS or len(runs_with_logs(since)) < RUNS:
        fail_if_any_ended(runs, "before every run was at work")
        if time.monotonic() > deadline:
            fail_killing(runs, f"not every run at work within {UNDER_WAY_BOUND_SECONDS} s")
        time.sleep(0.1)
    down_seconds = outage(server)
    outcomes = finish_all(runs)

    for code, output in outcomes:
        assert code == 0, output
        loud = [line for line in output.splitlines() if LOUD.search(line)]
        print(f"server down {down_seconds:.1f} s: {len(loud)} WARNING+ lines, {output.count(BACK)} back")
        assert len(loud) == 1 and "| WARNING |" in loud[0] and server.api_url in loud[0], output
        assert "Error logging to API" not in output  # Prefect's log worker, giving up on a batch
        assert len([line for line in output.splitlines() if BACK in line]) == 1, output

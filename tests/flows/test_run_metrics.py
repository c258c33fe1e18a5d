"""An rpa3 flow run, in its own process like a worker's, leaves its metrics on the server as a table artifact
of the run its deployment would have started, and the runtime's events related to that run; the run report
prints both for a finished run, and says when a run did not complete."""

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from flows.runtime import metrics_artifact as table
from tests.flows.run_records import metrics_of, wait_for_events
from tests.flows.stack import finish, flow_runs_since, set_flow_variables
from tests.support.bounded_process import run_bounded
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour

ITEMS = 30
WIDTH = 4
ERP = "erp"


def test_a_run_publishes_its_metrics_and_events_and_the_report_prints_them(new_stack, demo_erp):
    admin, erp_url = demo_erp
    # Throttled until each task's first call was answered 429 (nothing gets through a bucket this slow once
    # its one token went to the list of items), then open: every 429 is retried once or twice, never given up.
    admin.configure(ErpBehaviour(latency_seconds=0.02, rate_per_second=0.001, rate_burst=1))
    stack = new_stack(erp_api=WIDTH, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=WIDTH, timeout_seconds=120)
    started = datetime.now(UTC)
    opener = threading.Thread(target=_open_after_rejections, args=(admin, WIDTH), daemon=True)
    opener.start()

    code, output = finish(stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}"))

    assert code == 0, output
    [run] = flow_runs_since("rpa3", started)
    metrics = metrics_of(run.id)
    rejected = admin.stats().rejected_for_rate + admin.stats().rejected_for_concurrency
    assert rejected >= WIDTH
    assert metrics[(table.ITEMS_DONE, "")] == ITEMS
    assert metrics[(table.ITEMS_FAILED, "")] == 0
    assert 1 <= metrics[(table.ITEMS_RETRIED, "")] <= ITEMS
    assert metrics[(table.THROTTLED, ERP)] == rejected  # every 429 the ERP answered, and nothing else
    assert (
        metrics[(table.RETRY_AFTER_WAIT, ERP)] >= rejected * 1.0
    )  # each waited at least its Retry-After: 1 s
    assert metrics[(table.BREAKER_OPENINGS, ERP)] == 0
    assert metrics[(table.WIDTH, "")] == WIDTH
    assert metrics[(table.THROUGHPUT, "")] > 0
    latencies = [metrics[(table.LATENCY.format(p), ERP)] for p in ("p50", "p95", "p99")]
    assert None not in latencies and latencies == sorted(latencies)
    for limit in (stack.limit_name("erp-api-rate"), stack.limit_name("db-write")):
        waits = [metrics[(table.SLOT_WAIT.format(p), limit)] for p in ("p50", "p95")]
        assert None not in waits and 0 <= waits[0] <= waits[1]

    expected = {"rpa.slots.leased", "rpa.slots.released", "rpa.service.throttled"}
    events = wait_for_events(run.id, started, expected)
    throttled = [event for event in events if event.event == "rpa.service.throttled"]
    assert {event.resource.id for event in throttled} == {f"rpa.service.{ERP}"}
    assert sum(event.payload["count"] for event in throttled) == rejected  # aggregated, none lost
    assert len(throttled) < rejected  # and never one per call
    limits = {event.resource.name for event in events if event.event.startswith("rpa.slots.")}
    assert stack.limit_name("erp-api") in limits
    assert not {"rpa.breaker.opened", "rpa.breaker.closed"} & {event.event for event in events}

    report = _run_report(str(run.id))
    assert report.returncode == 0, report.stdout + report.stderr
    assert table.ITEMS_DONE in report.stdout and table.THROTTLED in report.stdout
    assert f"/runs/flow-run/{run.id}" in report.stdout


def test_a_failed_run_still_publishes_its_metrics_and_the_report_exits_non_zero(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.0, failure_status=503))  # an outage: the breaker opens
    stack = new_stack(erp_api=2, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=2, timeout_seconds=60)
    started = datetime.now(UTC)

    code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=3"))

    assert code != 0, output
    [run] = flow_runs_since("rpa3", started)
    metrics = metrics_of(run.id)
    assert metrics[(table.BREAKER_OPENINGS, ERP)] == 1
    assert metrics[(table.ITEMS_DONE, "")] == 0
    events = wait_for_events(run.id, started, {"rpa.breaker.opened"})
    assert [event.resource.id for event in events if event.event == "rpa.breaker.opened"] == [
        f"rpa.service.{ERP}"
    ]

    report = _run_report(str(run.id))
    assert report.returncode == 1, report.stdout + report.stderr
    assert "Failed" in report.stdout
    assert table.BREAKER_OPENINGS in report.stdout
    assert f"/runs/flow-run/{run.id}" in report.stdout


def _open_after_rejections(admin: DemoErpAdmin, rejections: int) -> None:
    """Lift the ERP's rate limit once it has answered that many 429s."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and admin.stats().rejected_for_rate < rejections:
        time.sleep(0.05)
    admin.configure(ErpBehaviour(latency_seconds=0.02))


def _run_report(flow_run_id: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "operations.run_report", "--flow-run", flow_run_id]
    wide = {**os.environ, "COLUMNS": "200"}  # rich wraps no row of the table: its names stay whole
    return run_bounded(command, timeout=120, env=wide)  # a bound on a hang: it prints in seconds

"""`python -m operations.run_report rpa3/<deployment>` for real, without Docker: a deployment of rpa3 from this
checkout in a process pool, and a real process worker that runs what the report starts. It prints the run's
state changes, metrics table and page, and exits 0 only for a completed run."""

import os
import re
import sys
from pathlib import Path
from uuid import UUID

from flows.runtime import metrics_artifact as table
from tests.flows.run_records import metrics_of
from tests.flows.stack import ENVIRONMENT, set_flow_variables
from tests.support.bounded_process import run_bounded
from tests.support.process_worker import WorkerProcess, deploy_rpa3, running_worker
from tools.demo_erp.behaviour import ErpBehaviour

ITEMS = 10
RUN_URL = re.compile(r"/runs/flow-run/(?P<id>[0-9a-f-]{36})")


def run_report(worker: WorkerProcess, *args: str) -> tuple[int, str, UUID]:
    """Its exit code, its output and the id of the run its printed URL names."""
    wide = {**os.environ, "COLUMNS": "200"}  # rich wraps no row of the table: its names stay whole
    done = run_bounded(
        [sys.executable, "-m", "operations.run_report", *args], timeout=300, env=wide, context=worker.log_tail
    )
    output = done.stdout + done.stderr
    found = RUN_URL.search(done.stdout)
    assert found is not None, f"no run URL printed:\n{output}\n{worker.log_tail()}"
    return done.returncode, f"{output}\n{worker.log_tail()}", UUID(found["id"])


def test_the_report_runs_a_deployment_through_its_worker(new_stack, demo_erp, tmp_path: Path):
    admin, erp_url = demo_erp
    stack = new_stack(erp_api=3, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=3, timeout_seconds=30)
    pool = deploy_rpa3(stack.name, ENVIRONMENT, stack.database_url, erp_url=erp_url)
    deployment = f"rpa3/{stack.name}"

    with running_worker(pool, tmp_path / "worker.log") as worker:
        code, output, run_id = run_report(worker, deployment, "--param", f"item_count={ITEMS}")
        assert code == 0, output
        assert f"of {deployment}" in output and "Completed" in output
        # The artifact's Markdown description, rendered for a terminal.
        assert f"rpa3 on stack {stack.name} ({ENVIRONMENT})" in output and "**" not in output
        assert table.ITEMS_DONE in output and table.WIDTH in output
        assert metrics_of(run_id)[(table.ITEMS_DONE, "")] == ITEMS
        assert len(stack.query("SELECT item_id FROM reconciliations")) == ITEMS

        admin.configure(ErpBehaviour(latency_seconds=0.0, failure_status=503))  # an outage: the run fails
        code, output, run_id = run_report(worker, deployment, "--param", "item_count=3")
        assert code == 1, output
        assert "Failed" in output and table.BREAKER_OPENINGS in output
        assert metrics_of(run_id)[(table.ITEMS_DONE, "")] == 0


def test_an_unknown_deployment_is_one_line(prefect_server):
    done = run_bounded([sys.executable, "-m", "operations.run_report", "rpa3/nosuchdeployment"], timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"no deployment rpa3/nosuchdeployment on {prefect_server.api_url}" in line

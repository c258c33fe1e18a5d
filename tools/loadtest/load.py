"""One load: a demo ERP enforcing the stack's limits, the flow runs started together and followed, then the
figures. The ERP and every flow-run process are gone when this returns, also after Ctrl-C."""

import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from tools.loadtest import progress
from tools.loadtest.erp_under_test import erp_under_test
from tools.loadtest.flow_runs import LocalFlowRuns
from tools.loadtest.measure import measure, reconciled_items
from tools.loadtest.plan import FLOW, LoadPlan
from tools.loadtest.result import FlowRunOutcome, LoadPlanRecord, LoadResult, StackLimits
from tools.loadtest.run_states import RunStatePoller
from tools.loadtest.target import Target


def run_load(plan: LoadPlan, target: Target, limits: StackLimits, console: Console) -> LoadResult:
    started = time.time()
    # Batches unique to this load: item ids never collide with another load's, and the poller finds its runs.
    prefix = f"LT{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="rpa-loadtest-") as work,
        erp_under_test(limits, plan.erp_latency_seconds) as erp,
    ):
        database_path = Path(work) / "results.db"
        runs = LocalFlowRuns(target, erp.url, f"sqlite:///{database_path}", Path(work))
        poller = RunStatePoller(runs, started)
        try:
            for index in range(plan.flow_runs):
                runs.start(f"{prefix}-{index}", plan.items)
            with poller:
                progress.follow(erp.admin, runs, plan.planned_items, console)
        finally:
            runs.stop()
        wall_seconds = time.time() - started
        stats, timeline = erp.admin.stats(), erp.admin.timeline()
        reconciled = reconciled_items(database_path)
        outcomes = [
            FlowRunOutcome(
                batch=run.batch, exit_code=run.process.returncode, final_state=poller.final_state(run.batch)
            )
            for run in runs.runs
        ]
        for run in runs.runs:
            if run.process.returncode != 0:
                console.print(
                    f"[red]flow run {run.batch} exited {run.process.returncode}[/red]; its last lines:"
                )
                console.print(run.log_tail(), markup=False, highlight=False)
    measured = measure(target.stack, limits, plan.planned_items, reconciled, stats, timeline, wall_seconds)
    return LoadResult(
        stack=target.stack,
        environment=target.environment,
        api_url=target.api_url,
        started_at=datetime.fromtimestamp(started, UTC).isoformat(),
        plan=LoadPlanRecord(
            flow=FLOW,
            mode="local",
            flow_runs=plan.flow_runs,
            items_per_run=plan.items,
            erp_latency_seconds=plan.erp_latency_seconds,
        ),
        limits=limits,
        items=measured.items,
        erp=measured.erp,
        throughput=measured.throughput,
        observed=measured.observed,
        flow_runs=outcomes,
        run_states=poller.samples,
        timeline=timeline,
    )

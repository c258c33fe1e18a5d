"""One load: a demo ERP enforcing the stack's limits, the flow runs started together (locally or through the
stack's deployment, as the route says) and followed, then the figures. The ERP is gone and every flow run has
ended or been asked to stop when this returns, also after Ctrl-C."""

import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from tools.loadtest import progress
from tools.loadtest.deployment_runs import DeploymentFlowRuns
from tools.loadtest.driver import FlowRunDriver
from tools.loadtest.erp_under_test import erp_under_test
from tools.loadtest.flow_runs import LocalFlowRuns
from tools.loadtest.handovers import read_handovers
from tools.loadtest.measure import measure
from tools.loadtest.plan import FLOW, LoadPlan
from tools.loadtest.result import LoadPlanRecord, LoadResult, StackLimits
from tools.loadtest.route import Route
from tools.loadtest.run_states import RunStatePoller
from tools.loadtest.target import Target


def _driver(route: Route, target: Target, erp_url: str, work_dir: Path, console: Console) -> FlowRunDriver:
    if route.deployment is not None:
        return DeploymentFlowRuns(route.deployment, erp_url, console)
    return LocalFlowRuns(target, erp_url, work_dir)


def run_load(
    plan: LoadPlan, target: Target, route: Route, limits: StackLimits, console: Console
) -> LoadResult:
    started = time.time()
    # Batches unique to this load: item ids never collide with another load's, and the poller finds its runs.
    prefix = f"LT{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="rpa-loadtest-") as work,
        erp_under_test(limits, plan.erp_latency_seconds) as erp,
    ):
        runs = _driver(route, target, erp.url, Path(work), console)
        # The poller's last sample comes after stop(): the states the runs were left in.
        with RunStatePoller(runs, started) as poller:
            try:
                for index in range(plan.flow_runs):
                    runs.start(f"{prefix}-{index}", plan.items)
                progress.follow(erp.admin, runs, plan.planned_items, console)
            finally:
                runs.stop()
        wall_seconds = time.time() - started
        stats, timeline = erp.admin.stats(), erp.admin.timeline()
        collected = runs.collect(poller.final_state, console)
    # Through a deployment, how soon each run queued behind its limit followed the one before it.
    deployment_runs = [outcome.flow_run_id for outcome in collected.outcomes if outcome.flow_run_id]
    handovers = read_handovers(deployment_runs, stats.callers) if route.deployment is not None else []
    measured = measure(
        target.stack,
        limits,
        plan.planned_items,
        collected.reconciled,
        collected.counted_from,
        stats,
        timeline,
        wall_seconds,
    )
    return LoadResult(
        stack=target.stack,
        environment=target.environment,
        api_url=target.api_url,
        started_at=datetime.fromtimestamp(started, UTC).isoformat(),
        plan=LoadPlanRecord(
            flow=FLOW,
            mode=route.mode,
            mode_reason=route.reason,
            deployment=route.deployment.name if route.deployment is not None else None,
            work_pool=route.deployment.work_pool if route.deployment is not None else None,
            flow_runs=plan.flow_runs,
            items_per_run=plan.items,
            erp_latency_seconds=plan.erp_latency_seconds,
        ),
        limits=limits,
        items=measured.items,
        erp=measured.erp,
        throughput=measured.throughput,
        observed=measured.observed,
        flow_runs=collected.outcomes,
        run_states=poller.samples,
        timeline=timeline,
        handovers=handovers,
    )

"""Flow runs started through the stack's rpa3 deployment and run by its pool's workers, pointed at the load
test's ERP through the runs' job variables. Their items are counted from each run's metrics table artifact,
read back from the server: the results database may live where this machine cannot read it (a container)."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Cancelling
from rich.console import Console

from flows.runtime import ITEMS_DONE, ITEMS_FAILED, read_rows
from flows.systems.endpoints import ERP_API_URL_ENV
from operations.run_report import flow_run_url
from rpa_naming.operator_commands import cancel_stuck_run_command
from tools.loadtest.driver import Collected
from tools.loadtest.result import FlowRunOutcome
from tools.loadtest.route import Deployment

# No run picked up by a worker within this: the workers are online but do not take the pool's runs (another
# queue, a full pool, a deployment slot held by a run stuck in Cancelling). Runs waiting behind the
# deployment's own concurrency limit are fine once one has started.
START_TIMEOUT_SECONDS = 300
# A cancelled run's worker stops its process or container; one not Cancelled by then is reported as it is.
STOP_GRACE_SECONDS = 60
POLL_SECONDS = 1.0
LOADTEST_TAG = "loadtest"


class RunsNotStarted(RuntimeError):
    """Online workers, and still no run of the load was picked up: one line naming the pool and the states."""


@dataclass
class DeploymentRun:
    batch: str
    flow_run: FlowRun  # as last read from the server


def _final(run: DeploymentRun) -> bool:
    return run.flow_run.state is not None and run.flow_run.state.is_final()


def items_of(client: SyncPrefectClient, run: FlowRun) -> tuple[int, int] | None:
    """(done, failed) from the run's metrics table; None when it published none (it failed before working)."""
    table = read_rows(client, run.id)
    if table is None:
        return None
    _, rows = table
    figures = {row["metric"]: row["value"] for row in rows if row["of"] == ""}
    return int(figures.get(ITEMS_DONE) or 0), int(figures.get(ITEMS_FAILED) or 0)


class DeploymentFlowRuns:
    def __init__(self, deployment: Deployment, erp_url: str, console: Console) -> None:
        self._deployment = deployment
        self._erp_url = erp_url
        self._console = console
        self._runs: list[DeploymentRun] = []
        self._first_created: float | None = None
        self._picked_up = False

    def start(self, batch: str, items: int) -> None:
        with get_client(sync_client=True) as client:
            flow_run = client.create_flow_run_from_deployment(
                self._deployment.id,
                parameters={"item_count": items, "batch": batch},
                # The worker merges this env over the pool's and the deployment's: only the ERP changes.
                job_variables={"env": {ERP_API_URL_ENV: self._erp_url}},
                tags=[LOADTEST_TAG],
            )
        self._runs.append(DeploymentRun(batch=batch, flow_run=flow_run))
        if self._first_created is None:
            self._first_created = time.monotonic()

    def batches(self) -> list[str]:
        return [run.batch for run in self._runs]

    def running(self) -> int:
        self._refresh()
        self._check_picked_up()
        return sum(not _final(run) for run in self._runs)

    def unseen_state(self, batch: str) -> str:
        # Created on the server before start() returned: only a poll racing the creation misses one.
        return "Scheduled"

    def stop(self) -> None:
        """Cancelling, as the UI does: the server cancels runs no worker took yet, a worker stops the rest."""
        self._refresh()
        going = [run for run in self._runs if not _final(run)]
        if not going:
            return
        with get_client(sync_client=True) as client:
            for run in going:
                client.set_flow_run_state(run.flow_run.id, Cancelling(message="the load test stopped"))
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and not all(_final(run) for run in self._runs):
            time.sleep(POLL_SECONDS)
            self._refresh()
        for run in self._runs:
            if not _final(run):
                self._show_left(run)

    def _show_left(self, run: DeploymentRun) -> None:
        """A run not final after the grace. Prefect 3.9's runner can miss a run whose process ended by itself
        right after the cancel request: it then stays Cancelling and keeps a slot of its deployment."""
        state = run.flow_run.state.name if run.flow_run.state is not None else "no state"
        self._console.print(
            f"flow run {run.flow_run.name} is still {state} after {STOP_GRACE_SECONDS} s; once its process "
            f"is gone: {cancel_stuck_run_command(run.flow_run.id)}",
            markup=False,
            highlight=False,
        )

    def collect(self, final_state: Callable[[str], str | None], console: Console) -> Collected:
        self._refresh()
        done = 0
        outcomes: list[FlowRunOutcome] = []
        with get_client(sync_client=True) as client:
            for run in self._runs:
                items = items_of(client, run.flow_run)
                done += items[0] if items is not None else 0
                state = final_state(run.batch)
                if state != "Completed":
                    self._show_unfinished(run, state, console)
                outcomes.append(
                    FlowRunOutcome(
                        batch=run.batch,
                        exit_code=None,
                        final_state=state,
                        flow_run_id=str(run.flow_run.id),
                        items_done=items[0] if items is not None else None,
                        items_failed=items[1] if items is not None else None,
                    )
                )
        return Collected(reconciled=done, counted_from="metrics artifacts", outcomes=outcomes)

    def _refresh(self) -> None:
        if not self._runs:
            return
        with get_client(sync_client=True) as client:
            ids = FlowRunFilterId(any_=[run.flow_run.id for run in self._runs])
            found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=ids))
        by_id = {flow_run.id: flow_run for flow_run in found}
        for run in self._runs:
            run.flow_run = by_id.get(run.flow_run.id, run.flow_run)

    def _check_picked_up(self) -> None:
        if self._picked_up or self._first_created is None:
            return
        states = [run.flow_run.state for run in self._runs]
        self._picked_up = any(state is not None and state.type != StateType.SCHEDULED for state in states)
        if not self._picked_up and time.monotonic() - self._first_created > START_TIMEOUT_SECONDS:
            names = sorted({state.name for state in states if state is not None})
            raise RunsNotStarted(
                f"no flow run of {self._deployment.name} was picked up within {START_TIMEOUT_SECONDS} s "
                f"(all {', '.join(names)}): do the online workers of pool {self._deployment.work_pool} poll "
                f"its queue, and is a slot of the deployment free? `make status` shows both"
            )

    @staticmethod
    def _show_unfinished(run: DeploymentRun, state: str | None, console: Console) -> None:
        message = run.flow_run.state.message if run.flow_run.state is not None else None
        console.print(
            f"[red]flow run {run.flow_run.name} ({run.batch}) ended {state or 'unseen'}[/red]"
            + (f": {message}" if message else "")
        )
        url = flow_run_url(run.flow_run.id)
        if url is not None:
            console.print(url, markup=False, highlight=False)

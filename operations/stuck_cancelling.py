"""`python -m operations.stuck_cancelling [--older-than SECONDS]`: flow runs stuck in Cancelling that keep a
slot of their deployment's concurrency limit, and `--cancel FLOW_RUN_ID`, which gives that slot back.

Prefect counts a run in Cancelling as active: it keeps its deployment's slot until it reaches a final state
(its worker marks it Cancelled once it has stopped the run's container or process), so meanwhile every new
run of a CANCEL_NEW deployment is cancelled and those of an ENQUEUE deployment wait. A run whose worker is
gone, or could not stop it, stays in Cancelling: its slot comes back when its lease runs out, up to 5 minutes
after its process died, but never while the process lives on (it renews the lease) or if the server forgot
the lease. (The RPA flows themselves stop within seconds of their worker's SIGTERM: closing their runtime
releases every task waiting for a slot or a token.)

Marking it Cancelled gives the slot back, but Prefect (3.9.1) gives one back even when the lease has run out
and the slot was reclaimed already, which frees another run's slot: `--cancel` does it only while the
deployment's limit still counts a slot for each of its active runs."""

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun, State, StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.states import Cancelled

from rpa_naming.operator_commands import cancel_stuck_run_command

_ACTIVE = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]


@dataclass(frozen=True)
class StuckRun:
    run: FlowRun
    deployment: DeploymentResponse
    flow_name: str
    active_runs: int  # the deployment's runs in Pending, Running or Cancelling, this one included

    @property
    def counted_slots(self) -> int:
        limit = self.deployment.global_concurrency_limit
        return 0 if limit is None else limit.active_slots

    @property
    def holds_its_slot(self) -> bool:
        """Whether the limit still counts a slot for every active run, this one's included."""
        return self.counted_slots >= self.active_runs

    def describe(self, now: datetime) -> str:
        limit = self.deployment.global_concurrency_limit
        assert limit is not None
        options = self.deployment.concurrency_options
        cancel_new = options is not None and options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
        state_since = self.run.state.timestamp if self.run.state else now
        head = (
            f"flow run {self.run.name} ({self.run.id}) of {self.flow_name}/{self.deployment.name}: "
            f"cancelling for {(now - state_since).total_seconds():.0f} s"
        )
        if not self.holds_its_slot:
            return (
                f"{head}; its slot was reclaimed already ({limit.name} counts {self.counted_slots} for "
                f"{self.active_runs} active runs). Marking it cancelled now would free another run's slot: "
                f"delete it (`prefect flow-run delete {self.run.id}`), or cancel it once no other run of the "
                "deployment is active"
            )
        return (
            f"{head}, keeping a slot of {limit.name} (limit {limit.limit}; "
            f"{'new runs are cancelled' if cancel_new else 'new runs wait'} meanwhile). Once its "
            "container or process is gone, give the slot back: "
            f"`{cancel_stuck_run_command(self.run.id)}`"
        )


def find_stuck(client: SyncPrefectClient, older_than_seconds: float, now: datetime) -> list[StuckRun]:
    cancelling = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING]))
        )
    )
    stuck = []
    for run in cancelling:
        if run.deployment_id is None or run.state is None:
            continue
        if (now - run.state.timestamp).total_seconds() < older_than_seconds:
            continue
        deployment = client.read_deployment(run.deployment_id)
        if deployment.global_concurrency_limit is None:
            continue
        stuck.append(_stuck_run(client, run, deployment))
    return stuck


def give_back_slot(client: SyncPrefectClient, flow_run_id: UUID, now: datetime) -> str:
    run = client.read_flow_run(flow_run_id)
    if run.state is None or run.state.type is not StateType.CANCELLING or run.deployment_id is None:
        raise SystemExit(
            f"flow run {flow_run_id} is not a deployment's run in Cancelling: nothing to give back"
        )
    deployment = client.read_deployment(run.deployment_id)
    if deployment.global_concurrency_limit is None:
        raise SystemExit(f"deployment {deployment.name!r} has no concurrency limit: nothing to give back")
    stuck = _stuck_run(client, run, deployment)
    if not stuck.holds_its_slot:
        raise SystemExit(stuck.describe(now))
    cancelled: State[None] = Cancelled(message="Stuck in Cancelling; its deployment's slot given back")
    client.set_flow_run_state(flow_run_id, cancelled, force=True)
    after = client.read_deployment(run.deployment_id).global_concurrency_limit
    assert after is not None
    return f"flow run {run.name} cancelled; {after.name} counts {after.active_slots} of {after.limit} slots"


def _stuck_run(client: SyncPrefectClient, run: FlowRun, deployment: DeploymentResponse) -> StuckRun:
    active_runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_ACTIVE))),
    )
    return StuckRun(run, deployment, client.read_flow(deployment.flow_id).name, len(active_runs))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m operations.stuck_cancelling", description=__doc__)
    parser.add_argument("--older-than", type=float, default=120.0, help="seconds in Cancelling (default 120)")
    parser.add_argument("--cancel", type=UUID, metavar="FLOW_RUN_ID", help="give back this run's slot")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client:
        if args.cancel is not None:
            print(give_back_slot(client, args.cancel, now))
            return
        stuck = find_stuck(client, args.older_than, now)
    for run in stuck:
        print(run.describe(now))
    if not stuck:
        print(f"no deployment's flow run has been cancelling for {args.older_than:g} s or more")
    sys.exit(1 if stuck else 0)


if __name__ == "__main__":
    main()

"""How long a deployment's freed concurrency slot went unused. Prefect's server puts a flow run denied its
deployment's slot (collision_strategy ENQUEUE) back to Scheduled, named AwaitingConcurrencySlot and due a few
seconds later, and a worker proposes it again at a poll once it is due: for each run of the load that waited
so, the time from the end of the run before it to its taking the slot, starting and first calling the ERP."""

from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import State

from tools.demo_erp.stats import CallerStats
from tools.loadtest.result import Handover

AWAITING_SLOT = "AwaitingConcurrencySlot"


@dataclass(frozen=True)
class RunTimes:
    """One flow run's moments, wall clock (seconds since the epoch)."""

    flow_run_id: str
    waits: list[tuple[float, float]]  # each AwaitingConcurrencySlot state: when it was set, when it was due
    slot_taken: float | None  # its last Pending
    started: float | None  # its last Running
    ended: float | None  # its final state
    first_call: float | None  # at the ERP, by it or its subflows


def handovers(runs: list[RunTimes]) -> list[Handover]:
    """One per run that waited for the slot and then took it after another run of the load had ended."""
    ends = [(run.ended, run.flow_run_id) for run in runs if run.ended is not None]
    found = []
    for run in runs:
        if not run.waits or run.slot_taken is None:
            continue
        taken = run.slot_taken
        before = [(ended, other) for ended, other in ends if other != run.flow_run_id and ended <= taken]
        if not before:
            continue
        ended, previous = max(before)
        set_at, due = run.waits[-1]
        found.append(
            Handover(
                flow_run_id=run.flow_run_id,
                after_flow_run_id=previous,
                waits=len(run.waits),
                retry_after_seconds=due - set_at,
                to_slot_seconds=taken - ended,
                to_start_seconds=None if run.started is None else run.started - ended,
                to_first_call_seconds=None if run.first_call is None else run.first_call - ended,
            )
        )
    return found


def _last(states: list[State], name: str) -> float | None:
    times = [state.timestamp.timestamp() for state in states if state.name == name]
    return max(times, default=None)


def run_times(client: SyncPrefectClient, flow_run_id: str, callers: dict[str, CallerStats]) -> RunTimes:
    """From the server's state history of the run, and the ERP's first arrival of it or its subflows (the ERP
    tells callers apart by the flow run that calls, which is rpa3's subflow)."""
    states = sorted(client.read_flow_run_states(UUID(flow_run_id)), key=lambda state: state.timestamp)
    subflows = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(flow_run_id)])
        )
    )
    callers_of_run = [flow_run_id, *(str(subflow.id) for subflow in subflows)]
    first_calls = [callers[caller].first_arrival for caller in callers_of_run if caller in callers]
    waits = [
        (state.timestamp.timestamp(), state.state_details.scheduled_time.timestamp())
        for state in states
        if state.name == AWAITING_SLOT and state.state_details.scheduled_time is not None
    ]
    final = [state.timestamp.timestamp() for state in states if state.is_final()]
    return RunTimes(
        flow_run_id=flow_run_id,
        waits=waits,
        slot_taken=_last(states, "Pending"),
        started=_last(states, "Running"),
        ended=final[-1] if final else None,
        first_call=min(first_calls, default=None),
    )


def read_handovers(flow_run_ids: list[str], callers: dict[str, CallerStats]) -> list[Handover]:
    with get_client(sync_client=True) as client:
        return handovers([run_times(client, flow_run_id, callers) for flow_run_id in flow_run_ids])

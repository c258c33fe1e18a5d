"""Where the load proof's rate went: the ERP's busy span (first arrival to last completion, the span its
throughput is measured over) split into phases, each with the calls the rate allowed and the calls made, and
what was measured on the way: the concurrency limit's slots (in calls at the ERP, held by the flow runs but in
no call, free at the server), the rate limit's bucket, each run's tokens (granted, spent, dropped, its writes)
and its chunks (task runs), and the ERP's refusals.

Phases: until every flow run has made its first call (runs starting at different times), while all of them
call, and after the first of them made its last (the tail). Calls are the ERP's accepted arrivals, counted
from its timeline's intervals in proportion to their overlap with a phase."""

import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterTextSearch,
)

from flows.runtime.rate_limiter import TokenCounts
from tests.loadproof.limit_samples import LimitSample, mean_between
from tools.demo_erp.timeline import ErpTimeline

CHUNK_TASK = "reconcile_items"
GAP_SECONDS = 0.05  # between chunk task runs: less is the runner handing over, not a gap


@dataclass(frozen=True)
class CallingRun:
    """A flow run that calls the ERP (rpa3's subflow: the ERP knows callers by it), as the server saw it."""

    flow_run_id: str
    started: float | None  # Running, wall clock
    chunks: list[tuple[float, float]]  # each chunk task run's start and end
    tokens: TokenCounts | None  # as its rate limiter logged them when it closed


def read_calling_runs(client: SyncPrefectClient, flow_run_ids: list[str]) -> list[CallingRun]:
    """The runs that called the ERP for the load's flow runs: their subflows (rpa3 calls from one)."""
    parents = [UUID(flow_run_id) for flow_run_id in flow_run_ids]
    subflows = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents))
    )
    return [_calling_run(client, subflow.id) for subflow in subflows]


def _calling_run(client: SyncPrefectClient, flow_run_id: UUID) -> CallingRun:
    (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    chunks = sorted(
        (task_run.start_time.timestamp(), task_run.end_time.timestamp())
        for task_run in task_runs
        if task_run.name.startswith(CHUNK_TASK) and task_run.start_time and task_run.end_time
    )
    logs = client.read_logs(
        LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]), text=LogFilterTextSearch(query="rate limiter")
        )
    )
    counts = [found for log in logs if (found := TokenCounts.from_line(log.message)) is not None]
    return CallingRun(
        flow_run_id=str(flow_run_id),
        started=run.start_time.timestamp() if run.start_time else None,
        chunks=chunks,
        tokens=counts[0] if counts else None,
    )


@dataclass(frozen=True)
class Limits:
    concurrency: int  # calls in flight
    rate_per_second: float
    burst: int


def breakdown(
    timeline: ErpTimeline, samples: list[LimitSample], runs: list[CallingRun], limits: Limits
) -> dict[str, Any]:
    callers = [timeline.callers[run.flow_run_id] for run in runs if run.flow_run_id in timeline.callers]
    first = min(caller.first_arrival for caller in callers)
    all_calling = max(caller.first_arrival for caller in callers)
    ends = [caller.last_completion for caller in callers if caller.last_completion is not None]
    first_done, last = min(ends), max(ends)
    phases = {
        "until_every_run_calls": _phase(timeline, samples, limits, first, all_calling),
        "every_run_calling": _phase(timeline, samples, limits, all_calling, first_done),
        "tail_after_first_run_done": _phase(timeline, samples, limits, first_done, last),
    }
    busy = _phase(timeline, samples, limits, first, last)
    return {
        "busy_span": busy,
        "phases": phases,
        "runs": [_run_figures(run, timeline) for run in runs],
        "tokens": _tokens([run.tokens for run in runs if run.tokens is not None], limits),
        "erp_refusals": sum(bucket.rejected for bucket in timeline.buckets),
    }


def _phase(
    timeline: ErpTimeline, samples: list[LimitSample], limits: Limits, start: float, end: float
) -> dict[str, Any]:
    seconds = max(0.0, end - start)
    calls = in_flight = idle = 0.0
    for bucket in timeline.buckets:
        overlap = min(end, bucket.start + timeline.bucket_seconds) - max(start, bucket.start)
        if overlap <= 0:
            continue
        share = overlap / timeline.bucket_seconds
        calls += bucket.accepted * share
        in_flight += bucket.in_flight_seconds * share
        idle += overlap if bucket.highest_concurrency == 0 else 0.0
    allowed = limits.rate_per_second * seconds
    held = mean_between(samples, start, end, "held")
    figures: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "calls": round(calls),
        "calls_the_rate_allowed": round(allowed),
        "calls_short_of_the_rate": round(allowed - calls),
        "calls_per_second": round(calls / seconds, 1) if seconds else None,
        # Stretches of 0.25 s with no call in flight or arriving.
        "idle_seconds": round(idle, 2),
    }
    if seconds:
        # The concurrency limit's slots, on average: in calls at the ERP, held by flow runs in no call, free.
        figures["slots"] = {
            "in_calls": round(in_flight / seconds, 2),
            "held_not_in_calls": None if held is None else round(held - in_flight / seconds, 2),
            "free_at_server": None if held is None else round(limits.concurrency - held, 2),
        }
        fill = mean_between(samples, start, end, "bucket")
        # The rate limit's bucket, on average, of its burst: near it, the rate held the calls back.
        figures["rate_bucket_fill"] = None if fill is None else round(fill / limits.burst, 2)
    return figures


def _run_figures(run: CallingRun, timeline: ErpTimeline) -> dict[str, Any]:
    caller = timeline.callers.get(run.flow_run_id)
    first_call = caller.first_arrival if caller else None
    last = caller.last_completion if caller else None
    between = _chunk_gaps(run.chunks, first_call, last) if first_call is not None and last is not None else []
    return {
        "flow_run_id": run.flow_run_id,
        "start_to_first_call_seconds": round(first_call - run.started, 2)
        if first_call is not None and run.started is not None
        else None,
        "calls": caller.accepted if caller else 0,
        "chunks": len(run.chunks),
        # Within the run's calls, time with none of its chunk task runs going: the chunk edges' cost.
        "seconds_between_chunks": round(sum(end - start for start, end in between), 2),
        "gaps_between_chunks": len(between),
        "tokens": None if run.tokens is None else _token_figures(run.tokens),
    }


def _chunk_gaps(
    chunks: list[tuple[float, float]], first_call: float, last: float
) -> list[tuple[float, float]]:
    """Stretches from the first chunk's start to `last` in which no chunk task run of the run was going."""
    gaps = []
    covered_until = None
    for start, end in chunks:
        if covered_until is not None and start - covered_until > GAP_SECONDS:
            gaps.append((max(covered_until, first_call), min(start, last)))
        covered_until = end if covered_until is None else max(covered_until, end)
    return [(start, end) for start, end in gaps if end > start]


def _token_figures(counts: TokenCounts) -> dict[str, Any]:
    return {
        "granted": counts.granted,
        "spent": counts.spent,
        "dropped": counts.dropped,
        "writes": counts.writes,
        "refused_writes": counts.refused_writes,
        "busy_writes": counts.busy_writes,
        "granted_per_spent": round(counts.granted / counts.spent, 3) if counts.spent else None,
        "tokens_per_write": round(counts.granted / counts.writes, 1) if counts.writes else None,
    }


def _tokens(counts: list[TokenCounts], limits: Limits) -> dict[str, Any] | None:
    if not counts:
        return None
    total = TokenCounts(
        limit=counts[0].limit,
        granted=sum(c.granted for c in counts),
        spent=sum(c.spent for c in counts),
        dropped=sum(c.dropped for c in counts),
        writes=sum(c.writes for c in counts),
        refused_writes=sum(c.refused_writes for c in counts),
        busy_writes=sum(c.busy_writes for c in counts),
    )
    return {
        **_token_figures(total),
        # Each write restarts the server's decay clock and loses the drained fraction of a slot, half a slot
        # on average: while the bucket is full, that much of the rate is gone.
        "decay_lost_to_rounding_at_most": math.floor(0.5 * (total.writes + total.refused_writes)),
    }


def describe(figures: dict[str, Any]) -> str:
    """A few lines for the proof's output."""
    lines = ["where the rate went (calls short of what the rate allowed, by phase):"]
    for name, phase in [("busy span", figures["busy_span"]), *figures["phases"].items()]:
        slots = phase.get("slots") or {}
        lines.append(
            f"  {name}: {phase['seconds']} s, {phase['calls']} calls of {phase['calls_the_rate_allowed']} "
            f"({phase['calls_short_of_the_rate']} short), idle {phase['idle_seconds']} s, slots in calls "
            f"{slots.get('in_calls')} / held in no call {slots.get('held_not_in_calls')} / free "
            f"{slots.get('free_at_server')}, bucket fill {phase.get('rate_bucket_fill')}"
        )
    for run in figures["runs"]:
        lines.append(
            f"  run {run['flow_run_id'][:8]}: first call {run['start_to_first_call_seconds']} s after it "
            f"started, {run['chunks']} chunks, {run['seconds_between_chunks']} s between them, tokens "
            f"{run['tokens']}"
        )
    lines.append(f"  tokens: {figures['tokens']}; ERP refusals: {figures['erp_refusals']}")
    return "\n".join(lines)

"""The adaptive-limit benchmark's numbers for one limiter, from what the ERP saw (its timeline, counted per
0.25 s) and what the flow runs saw (each call's start and end, retries and slot waits included). Times are
seconds from the schedule's start."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bench.adaptive_scenario import CapacityMode, Limiter, Phase, Scenario
from tools.demo_erp.timeline import ErpTimeline, LatencySummary, percentile

# "Adapted" after the drop: the first window this long in which at most QUIET_WINDOW_429S 429s came and no
# more calls were admitted than the dropped capacity (mode 429), or in which no interval's p95 latency at the
# ERP was above QUEUED_LATENCY_FACTOR x its latency (mode queue: calls no longer wait in its line). An AIMD
# limiter probes upwards by design and meets a 429 now and then for good (about one per second here), so the
# bar is not zero; and the window spans two Retry-Afters, because a limiter that keeps overshooting meets its
# 429s in waves (all told "1 s" come back together) with quiet seconds between them.
QUIET_WINDOW_SECONDS = 2.0
QUIET_WINDOW_429S = 4
QUEUED_LATENCY_FACTOR = 1.5

Call = tuple[float, float, str | None]  # wall-clock start, end, error type (None: answered)


@dataclass
class PhaseNumbers:
    phase: str
    seconds: float
    capacity: int | None  # None for the whole run
    goodput_per_s: float  # calls the ERP accepted, per second
    rejected_429: int
    flow_calls: int  # calls the flow runs finished in it (answered or given up)
    flow_failed: int
    flow_p95_s: float | None  # one call as the flow sees it: slot waits and retries included
    erp_p95_s: float | None  # arrival to answer at the ERP (its line included)


@dataclass
class TimelinePoint:
    t: float  # the 0.25 s interval's start
    asked: int  # highest in flight counting a refused arrival: what the callers sent at once
    admitted: int
    accepted: int
    rejected: int
    latency_p95_s: float | None = None  # of the calls the ERP answered in the interval


@dataclass
class RunNumbers:
    caller: str
    late_start_s: float  # how long after the shared start the run's runtime opened
    calls: int
    failed: int
    throttled: int  # 429s the run's runtime was answered
    targets: list[tuple[float, int, str]]  # the adaptive target from then on, and why


@dataclass
class LimiterNumbers:
    limiter: str
    global_limit: int
    adaptive_floor: int | None
    phases: list[PhaseNumbers]
    overall: PhaseNumbers
    adapt_after_drop_s: float | None  # None: never within the phase
    adapt_after_recovery_s: float | None
    # 429s per second in the second half of the drop: what is left once a limiter has settled.
    late_drop_429_per_s: float
    erp_max_in_flight: int
    within_global_limit: bool
    load_averages: list[float]  # the 1-minute load average, sampled every 2 s while the runs ran
    runs: list[RunNumbers]
    timeline: list[TimelinePoint] = field(default_factory=list)
    capacity_changes: list[tuple[float, int | None]] = field(default_factory=list)


def measure(
    limiter: Limiter,
    scenario: Scenario,
    start_at: float,
    timeline: ErpTimeline,
    erp_latencies: Sequence[LatencySummary],  # per phase, then the whole run
    erp_max_in_flight: int,
    runs: Sequence[dict[str, Any]],
    load_averages: list[float],
) -> LimiterNumbers:
    points = [
        TimelinePoint(
            t=bucket.start - start_at,
            asked=bucket.highest_concurrency,
            admitted=bucket.highest_admitted,
            accepted=bucket.accepted,
            rejected=bucket.rejected,
            latency_p95_s=bucket.latency_p95_seconds,
        )
        for bucket in timeline.buckets
    ]
    calls: list[Call] = [(start, end, error) for run in runs for start, end, error in run["calls"]]
    phases = scenario.phases
    whole = Phase("overall", 0.0, scenario.total_seconds, 0)
    numbers = [
        _phase_numbers(phase, points, calls, start_at, latency)
        for phase, latency in zip([*phases, whole], erp_latencies, strict=True)
    ]
    overall = numbers.pop()
    overall.capacity = None
    dropped, recovered = phases[1], phases[2]
    late_drop = (dropped.start_s + dropped.end_s) / 2
    return LimiterNumbers(
        limiter=limiter.name,
        global_limit=limiter.global_limit,
        adaptive_floor=limiter.adaptive_floor,
        phases=numbers,
        overall=overall,
        adapt_after_drop_s=_adapted_after(points, dropped, scenario, timeline.bucket_seconds),
        adapt_after_recovery_s=_reaches(points, recovered, scenario.high - 1),
        late_drop_429_per_s=sum(p.rejected for p in points if late_drop <= p.t < dropped.end_s)
        / (dropped.end_s - late_drop),
        erp_max_in_flight=erp_max_in_flight,
        within_global_limit=erp_max_in_flight <= limiter.global_limit,
        load_averages=load_averages,
        runs=[_run_numbers(run, start_at) for run in runs],
        timeline=points,
        capacity_changes=[
            (change.at - start_at, change.max_concurrency or change.capacity) for change in timeline.changes
        ],
    )


def _phase_numbers(
    phase: Phase, points: Sequence[TimelinePoint], calls: Sequence[Call], start_at: float, erp: LatencySummary
) -> PhaseNumbers:
    inside = [p for p in points if phase.start_s <= p.t < phase.end_s]
    ended = [call for call in calls if phase.start_s <= call[1] - start_at < phase.end_s]
    return PhaseNumbers(
        phase=phase.name,
        seconds=phase.seconds,
        capacity=phase.capacity,
        goodput_per_s=sum(p.accepted for p in inside) / phase.seconds,
        rejected_429=sum(p.rejected for p in inside),
        flow_calls=len(ended),
        flow_failed=sum(error is not None for _, _, error in ended),
        flow_p95_s=percentile(sorted(end - start for start, end, _ in ended), 0.95),
        erp_p95_s=erp.p95_seconds,
    )


def _adapted_after(
    points: Sequence[TimelinePoint], phase: Phase, scenario: Scenario, bucket_seconds: float
) -> float | None:
    """Seconds from the drop to the first settled window (see QUIET_WINDOW_SECONDS) inside the phase."""
    inside = [p for p in points if phase.start_s - bucket_seconds < p.t < phase.end_s]
    size = max(1, math.ceil(QUIET_WINDOW_SECONDS / bucket_seconds))
    slow = QUEUED_LATENCY_FACTOR * scenario.latency_seconds
    for first in range(len(inside) - size + 1):
        window = inside[first : first + size]
        if scenario.mode is CapacityMode.QUEUE:
            settled = all(p.latency_p95_s is None or p.latency_p95_s <= slow for p in window)
        else:
            settled = (
                sum(p.rejected for p in window) <= QUIET_WINDOW_429S
                and max(p.admitted for p in window) <= phase.capacity
            )
        if settled:
            return max(0.0, window[0].t - phase.start_s)
    return None


def _reaches(points: Sequence[TimelinePoint], phase: Phase, in_flight: int) -> float | None:
    """Seconds from the recovery until the ERP first has `in_flight` admitted calls at once."""
    for point in points:
        if phase.start_s <= point.t < phase.end_s and point.admitted >= in_flight:
            return point.t - phase.start_s
    return None


def _run_numbers(run: dict[str, Any], start_at: float) -> RunNumbers:
    return RunNumbers(
        caller=run["caller"],
        late_start_s=run["opened_at"] - start_at,
        calls=len(run["calls"]),
        failed=sum(error is not None for _, _, error in run["calls"]),
        throttled=run["throttled"],
        targets=[(at - start_at, target, reason) for at, target, reason in run["adaptive_targets"]],
    )

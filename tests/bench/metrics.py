"""Numbers derived from the guarded intervals the workload runs report."""

import statistics
from collections.abc import Sequence

Interval = tuple[float, float]


def highest_overlap(intervals: Sequence[Interval]) -> int:
    """The most intervals open at one instant (an interval ending exactly when another starts does not count)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = highest = 0
    for _, change in events:
        open_now += change
        highest = max(highest, open_now)
    return highest


def steady_rate(intervals: Sequence[Interval], burst: int) -> float | None:
    """(calls - burst) / (last start - first start): a client that keeps to a bucket of `burst` refilled at
    R per second starts at most burst + R * T calls in T seconds, so this never exceeds R for it; the
    closer to R, the less of the rate it wasted."""
    starts = sorted(start for start, _ in intervals)
    if len(starts) <= burst or starts[-1] <= starts[0]:
        return None
    return (len(starts) - burst) / (starts[-1] - starts[0])


def handovers(runs: Sequence[Sequence[Interval]]) -> dict[str, float]:
    """Slots passing from one flow run to another: each call's end is matched, in order, with the next call
    to start anywhere; where that call is another run's, the slot changed hands. Their count, the slot
    seconds left idle between the two calls, and the median gap: what rotations cost at the ERP."""
    ends = sorted((end, run) for run, intervals in enumerate(runs) for _, end in intervals)
    starts = sorted((start, run) for run, intervals in enumerate(runs) for start, _ in intervals)
    waiting: list[tuple[float, int]] = []  # calls ended whose slot no call has taken yet, oldest first
    gaps: list[float] = []
    next_end = 0
    for start, run in starts:
        while next_end < len(ends) and ends[next_end][0] <= start:
            waiting.append(ends[next_end])
            next_end += 1
        if waiting:
            ended_at, ended_run = waiting.pop(0)
            if ended_run != run:
                gaps.append(start - ended_at)
    median = statistics.median(gaps) if gaps else 0.0
    return {
        "count": len(gaps),
        "idle_slot_seconds": round(sum(gaps), 2),
        "median_gap_ms": round(median * 1000),
    }

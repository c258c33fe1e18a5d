"""Numbers derived from the guarded intervals the workload runs report."""

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

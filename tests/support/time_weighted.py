"""The mean of a quantity sampled over time, each sample holding until the next."""


def time_weighted_mean(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    """The mean of the (time, value) `points`, in time order, from `start` to `end`; None over no time or
    without points."""
    if end <= start or not points:
        return None
    total = 0.0
    for (at, value), after in zip(points, [*points[1:], None], strict=True):
        until = end if after is None else after[0]
        overlap = min(until, end) - max(at, start)
        if overlap > 0:
            total += value * overlap
    return total / (end - start)

"""The adaptive-limit benchmark in one PNG: per limiter two panels on a shared time axis (seconds from the
schedule's start): the ERP's calls in flight against its capacity and the global limit (and the adaptive
runs' targets), then the ERP's accepted calls and 429s per second and its p95 latency per interval."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the picture goes to a file, also on CI and over SSH

import matplotlib.pyplot as plt

from tests.bench.adaptive_measure import LimiterNumbers, TimelinePoint

RUN_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")


def _per_second(points: Sequence[TimelinePoint], values: Sequence[int]) -> list[float]:
    """Counts over the second ending with each interval (the rate a reader expects, not a 0.25 s spike)."""
    if len(points) < 2:
        return [float(v) for v in values]
    window = max(1, round(1.0 / (points[1].t - points[0].t)))
    return [float(sum(values[max(0, i - window + 1) : i + 1])) for i in range(len(values))]


def _step_until(changes: Sequence[tuple[float, int | None]], end: float) -> tuple[list[float], list[float]]:
    times = [t for t, _ in changes] + [end]
    values = [float(v) if v is not None else float("nan") for _, v in changes]
    return times, [*values, values[-1]] if values else []


def _sum_of_targets(result: LimiterNumbers, end: float) -> tuple[list[float], list[float]]:
    """The runs' targets added up at each change: what the adaptive runs together would keep in flight."""
    changes = sorted(
        (t, index, target) for index, run in enumerate(result.runs) for t, target, _ in run.targets
    )
    current: dict[int, int] = {}
    times, sums = [], []
    for t, index, target in changes:
        current[index] = target
        times.append(t)
        sums.append(float(sum(current.values())))
    return [*times, end], [*sums, sums[-1]]


def draw(results: Sequence[LimiterNumbers], total_seconds: float, title: str, path: Path) -> None:
    figure, axes = plt.subplots(
        2 * len(results), 1, figsize=(11, 3.2 * len(results)), sharex=True, squeeze=False
    )
    figure.suptitle(title, fontsize=10)
    for index, result in enumerate(results):
        in_flight, rates = axes[2 * index][0], axes[2 * index + 1][0]
        points = [p for p in result.timeline if -1.0 <= p.t <= total_seconds + 1.0]
        times = [p.t for p in points]
        in_flight.step(times, [p.asked for p in points], where="post", label="ERP in flight (asked)")
        in_flight.step(
            times, [p.admitted for p in points], where="post", linewidth=0.8, label="ERP in flight (admitted)"
        )
        changes = [(t, v) for t, v in result.capacity_changes if t <= total_seconds]
        if changes:
            change_times, capacities = _step_until(changes, total_seconds)
            in_flight.step(
                change_times, capacities, where="post", color="red", linestyle="--", label="ERP capacity"
            )
        in_flight.axhline(
            result.global_limit, color="grey", linestyle=":", label=f"global limit {result.global_limit}"
        )
        for run_index, run in enumerate(r for r in result.runs if r.targets):
            target_times = [t for t, _, _ in run.targets] + [total_seconds]
            targets = [target for _, target, _ in run.targets]
            in_flight.step(
                target_times,
                [*targets, targets[-1]],
                where="post",
                color=RUN_COLOURS[run_index % len(RUN_COLOURS)],
                linewidth=0.9,
                label=f"target of run {run_index + 1}",
            )
        highest = max(
            [result.global_limit, *(v for _, v in changes if v is not None), *(p.asked for p in points)]
        )
        if any(run.targets for run in result.runs):
            sum_times, sums = _sum_of_targets(result, total_seconds)
            in_flight.step(
                sum_times, sums, where="post", color="black", linewidth=0.7, label="targets summed"
            )
        in_flight.set_ylim(bottom=0, top=highest + 3)  # room for the legend above the lines
        in_flight.set_ylabel(f"{result.limiter}\ncalls in flight")
        in_flight.legend(loc="upper right", fontsize=7, ncol=3)

        rates.plot(
            times, _per_second(points, [p.accepted for p in points]), color="#2ca02c", label="accepted / s"
        )
        rates.plot(
            times, _per_second(points, [p.rejected for p in points]), color="#d62728", label="429s / s"
        )
        rates.set_ylabel("ERP calls / s")
        rates.set_ylim(bottom=0)
        latency = rates.twinx()  # seconds, not calls: its own scale on the right
        latency.plot(
            times,
            [p.latency_p95_s if p.latency_p95_s is not None else float("nan") for p in points],
            color="#7f7f7f",
            linewidth=0.7,
            label="ERP p95 latency (s, right)",
        )
        latency.set_ylim(bottom=0)
        latency.set_ylabel("s")
        lines, labels = rates.get_legend_handles_labels()
        more_lines, more_labels = latency.get_legend_handles_labels()
        rates.legend(lines + more_lines, labels + more_labels, loc="upper right", fontsize=7, ncol=3)
    axes[-1][0].set_xlabel("seconds from the schedule's start")
    axes[-1][0].set_xlim(-1.0, total_seconds + 1.0)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)

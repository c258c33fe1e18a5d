"""The load in one PNG, three panels sharing the time axis: calls in flight at the ERP against the erp-api
limit, arrivals per second against the erp-api-rate limit, and the flow runs by state."""

from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the picture goes to a file, also on CI and over SSH

import matplotlib.pyplot as plt

from tools.loadtest.result import LoadResult

STATE_COLOURS = {
    "Starting": "#c7c7c7",
    "Scheduled": "#ffbb78",
    "AwaitingConcurrencySlot": "#ff7f0e",
    "Pending": "#9edae5",
    "Running": "#1f77b4",
    "Completed": "#2ca02c",
    "Failed": "#d62728",
    "Crashed": "#8c564b",
    "Cancelling": "#c49c94",
    "Cancelled": "#7f7f7f",
    "No run": "#000000",
}


def _arrivals_per_second(result: LoadResult) -> tuple[list[float], list[float], list[float]]:
    """Arrivals and 429s over the second ending at each bucket: the window the rate limit is defined on."""
    timeline = result.timeline
    started = _started(result)
    window = max(1, round(1.0 / timeline.bucket_seconds))
    arrivals = [bucket.arrivals for bucket in timeline.buckets]
    rejected = [bucket.rejected for bucket in timeline.buckets]
    times = [bucket.start + timeline.bucket_seconds - started for bucket in timeline.buckets]
    per_second = [float(sum(arrivals[max(0, i - window + 1) : i + 1])) for i in range(len(arrivals))]
    rejected_per_second = [float(sum(rejected[max(0, i - window + 1) : i + 1])) for i in range(len(rejected))]
    return times, per_second, rejected_per_second


def _started(result: LoadResult) -> float:
    return datetime.fromisoformat(result.started_at).timestamp()


def draw(result: LoadResult, path: Path) -> None:
    started = _started(result)
    timeline = result.timeline
    figure, (concurrency, rate, states) = plt.subplots(3, 1, figsize=(10, 8.5), sharex=True)
    title = (
        f"make loadtest STACK={result.stack}: {result.plan.flow_runs} x {result.plan.items_per_run} items "
        f"of {result.plan.flow} ({result.plan.mode}), width {result.limits.max_concurrent_tasks}; "
        f"{result.throughput.items_per_second:.1f} items/s, {result.items.failed} failed, "
        f"{result.erp.share_429:.1%} 429s"
    )
    figure.suptitle(title, fontsize=10)

    times = [bucket.start - started for bucket in timeline.buckets]
    observed = result.observed[0]
    concurrency.step(
        times, [b.highest_concurrency for b in timeline.buckets], where="post", label="in flight"
    )
    concurrency.axhline(
        observed.allowed, color="red", linestyle="--", label=f"{observed.limit} = {observed.allowed:g}"
    )
    concurrency.set_ylabel("ERP calls in flight\n(highest per 0.25 s)")
    concurrency.legend(loc="upper right", fontsize=8)

    window_times, per_second, rejected_per_second = _arrivals_per_second(result)
    limits = result.limits
    rate.plot(window_times, per_second, label="arrivals in the last 1 s")
    if any(rejected_per_second):
        rate.plot(window_times, rejected_per_second, color="red", label="429s in the last 1 s")
    rate.axhline(
        limits.erp_api_rate_per_second,
        color="orange",
        linestyle="--",
        label=f"rate {limits.erp_api_rate_per_second:g}/s",
    )
    rate.axhline(
        result.observed[1].allowed,
        color="red",
        linestyle=":",
        label=f"burst + rate = {result.observed[1].allowed:g} in any 1 s",
    )
    rate.set_ylabel("ERP arrivals / s")
    rate.legend(loc="upper right", fontsize=8)

    sample_times = [sample.seconds for sample in result.run_states]
    names = [name for name in STATE_COLOURS if any(name in s.counts for s in result.run_states)]
    names += sorted({name for s in result.run_states for name in s.counts} - set(names))
    states.stackplot(
        sample_times,
        [[sample.counts.get(name, 0) for sample in result.run_states] for name in names],
        labels=names,
        colors=[STATE_COLOURS.get(name, "#bcbd22") for name in names],
        step="post",
    )
    states.set_ylabel("flow runs")
    states.set_xlabel("seconds since the load started")
    states.legend(loc="upper right", fontsize=8)

    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)

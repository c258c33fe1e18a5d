"""The adaptive-limit benchmark's table: per limiter one row per phase and one for the whole run, which also
holds the times to adapt and the most calls the ERP saw in flight against the global limit."""

from collections.abc import Sequence

from tests.bench.adaptive_measure import LimiterNumbers, PhaseNumbers

LATE_START_SECONDS = 0.5  # a run whose runtime opened later than this missed the schedule's start

_HEADER = (
    f"{'limiter':<10} {'phase':<10} {'cap':>4} {'goodput/s':>9} {'429s':>6} {'calls':>6} {'failed':>6} "
    f"{'p95 flow s':>10} {'p95 ERP s':>9} {'adapt drop s':>12} {'late 429/s':>10} {'adapt rec s':>11} "
    f"{'max in flight/L':>15}"
)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def _row(limiter: str, numbers: PhaseNumbers, tail: str = "") -> str:
    capacity = "-" if numbers.capacity is None else str(numbers.capacity)
    flow_p95 = "-" if numbers.flow_p95_s is None else f"{numbers.flow_p95_s:.3f}"
    erp_p95 = "-" if numbers.erp_p95_s is None else f"{numbers.erp_p95_s:.3f}"
    return (
        f"{limiter:<10} {numbers.phase:<10} {capacity:>4} {numbers.goodput_per_s:>9.1f} {numbers.rejected_429:>6} "
        f"{numbers.flow_calls:>6} {numbers.flow_failed:>6} {flow_p95:>10} {erp_p95:>9}{tail}"
    )


def render(results: Sequence[LimiterNumbers], *, header: bool) -> str:
    lines = [_HEADER, "-" * len(_HEADER)] if header else []
    for result in results:
        lines += [_row(result.limiter, phase) for phase in result.phases]
        within = "" if result.within_global_limit else " OVER"
        tail = (
            f" {_seconds(result.adapt_after_drop_s):>12} {result.late_drop_429_per_s:>10.1f}"
            f" {_seconds(result.adapt_after_recovery_s):>11} "
            f"{f'{result.erp_max_in_flight}/{result.global_limit}{within}':>15}"
        )
        lines.append(_row(result.limiter, result.overall, tail))
        loads = result.load_averages
        load = f"{sum(loads) / len(loads):.2f} mean, {max(loads):.2f} max" if loads else "-"
        late = max((run.late_start_s for run in result.runs), default=0.0)
        note = f"; a run started {late:.1f} s late" if late > LATE_START_SECONDS else ""
        lines.append(f"{'':<10} 1-minute load average while it ran: {load}{note}")
    return "\n".join(lines)

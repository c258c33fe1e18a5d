"""The benchmark's tables: one row per scenario, and each limiter's time over ideal per server database."""

from collections.abc import Sequence

from tests.bench.outcome import Outcome

_HEADER = (
    f"{'db':<10} {'variant':<20} {'d':>6} {'ideal s':>8} {'time s':>8} {'x ideal':>8} {'done':>5} "
    f"{'max conc client/ERP':>20} {'runs end s':>12} {'calls/task':>10} {'rate/s (acc)':>14} {'ERP 1s/429':>10}"
)


def render(rows: Sequence[Outcome], *, header: bool) -> str:
    lines = [_HEADER, "-" * len(_HEADER)] if header else []
    for row in rows:
        time_s = f"{row.time_s:.2f}" if row.time_s is not None else f">{row.cap_s:.0f}"
        over = f"{row.time_over_ideal:.2f}" if row.time_over_ideal is not None else "-"
        over = f"~{over}" if row.capped else over
        concurrency = f"{_text(row.client_max_concurrency)}/{row.erp_max_concurrency}"
        concurrency += f" (L={row.limit})" if row.limit is not None else " (no L)"
        finishes = "/".join(f"{finish:.1f}" for finish in row.run_finish_s) or "-"
        calls = (
            f"{row.runtime_server_calls_per_task:.2f}"
            if row.runtime_server_calls_per_task is not None
            else "-"
        )
        rate = (
            f"{row.rate_per_s:.1f} ({row.rate_accuracy:.0%})" if row.rate_per_s and row.rate_accuracy else "-"
        )
        erp_rate = (
            f"{row.erp_max_calls_in_1s}/{row.erp_rate_rejections}"
            if row.erp_max_calls_in_1s is not None
            else "-"
        )
        lines.append(
            f"{row.database:<10} {row.variant:<20} {row.duration_s * 1000:>4.0f}ms {row.ideal_s:>8.2f} {time_s:>8} {over:>8} "
            f"{row.finished_tasks:>5} {concurrency:>20} {finishes:>12} {calls:>10} {rate:>14} {erp_rate:>10}"
        )
    return "\n".join(lines)


def render_databases(rows: Sequence[Outcome], databases: Sequence[str]) -> str:
    """Per variant and call duration, time over ideal on each database, and the first over the others: how
    much of a limiter's cost was the database's."""
    by_key = {(row.variant, row.duration_s, row.database): row for row in rows}
    keys = list(dict.fromkeys((row.variant, row.duration_s) for row in rows))
    header = f"{'variant':<20} {'d':>6} " + " ".join(f"{db + ' x ideal':>18}" for db in databases)
    header += f" {databases[0] + ' / ' + databases[-1]:>22}"
    lines = [header, "-" * len(header)]
    for variant, duration in keys:
        ratios = [by_key.get((variant, duration, db)) for db in databases]
        cells = [_ratio(row) for row in ratios]
        first, last = (row.time_over_ideal if row else None for row in (ratios[0], ratios[-1]))
        quotient = f"{first / last:.2f}" if first and last else "-"
        lines.append(
            f"{variant:<20} {duration * 1000:>4.0f}ms "
            + " ".join(f"{cell:>18}" for cell in cells)
            + f" {quotient:>22}"
        )
    return "\n".join(lines)


def _ratio(row: Outcome | None) -> str:
    if row is None or row.time_over_ideal is None:
        return "-"
    return f"{'~' if row.capped else ''}{row.time_over_ideal:.2f}"


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)

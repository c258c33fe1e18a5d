"""Where results go (loadtest-results/<stack>-<UTC timestamp>.json and .png), and how they read."""

from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from tools.loadtest import picture
from tools.loadtest.result import Handover, LoadResult, StepUpResult

# What each kind of limit bounds, as the ERP counts it.
OBSERVED = {"concurrency": "calls in flight", "rate": "arrivals in any 1 s"}


def result_stem(out_dir: Path, stack: str, suffix: str = "") -> Path:
    return out_dir / f"{stack}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}{suffix}"


def write_load(result: LoadResult, stem: Path) -> Path:
    """The picture, then the JSON naming it; returns the JSON's path."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_suffix(".png")
    picture.draw(result, png)
    result.picture = str(png)
    json_path = stem.with_suffix(".json")
    json_path.write_text(result.model_dump_json(indent=2))
    return json_path


def write_step_up(result: StepUpResult, stem: Path) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path = stem.with_suffix(".json")
    json_path.write_text(result.model_dump_json(indent=2))
    return json_path


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def load_table(result: LoadResult) -> Table:
    table = Table(
        title=f"load test of {result.stack} ({result.plan.flow_runs} x {result.plan.items_per_run} items)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    items, erp, throughput = result.items, result.erp, result.throughput
    rows = [
        ("flow runs", result.plan.mode_reason),
        (f"items done / planned (from {items.counted_from})", f"{items.reconciled} / {items.planned}"),
        ("error rate (failed items)", f"{items.error_rate:.1%}"),
        (
            "throughput (ERP busy span)",
            f"{throughput.items_per_second:.1f} items/s over {throughput.busy_seconds:.1f} s",
        ),
        ("ERP idle within its busy span", f"{throughput.erp_idle_seconds:.1f} s"),
        (
            "throughput (wall, start-up included)",
            f"{throughput.wall_items_per_second:.1f} items/s over {throughput.wall_seconds:.1f} s",
        ),
        (
            "ERP latency p50 / p95",
            f"{_seconds(erp.latency_p50_seconds)} / {_seconds(erp.latency_p95_seconds)}",
        ),
        (
            "429 share of ERP arrivals",
            f"{erp.share_429:.1%} ({erp.rejected_for_concurrency} conc., {erp.rejected_for_rate} rate)",
        ),
    ]
    rows += [
        (
            f"most {OBSERVED[o.kind]} at the ERP",
            f"{o.highest_observed:g}, {o.limit} allows {o.allowed:g} ({o.allowance}): "
            f"{'ok' if o.within else 'EXCEEDED'}",
        )
        for o in result.observed
    ]
    if result.handovers:
        rows.append(("runs queued behind the deployment's limit", handover_summary(result.handovers)))
    for name, value in rows:
        table.add_row(name, value)
    return table


def handover_summary(handovers: list[Handover]) -> str:
    """The slowest to take the slot and to call the ERP, from the previous run's end; the server's retry."""
    to_slot = max(handover.to_slot_seconds for handover in handovers)
    to_call = [h.to_first_call_seconds for h in handovers if h.to_first_call_seconds is not None]
    first_call = f"first ERP call within {max(to_call):.1f} s, " if to_call else ""
    retry = max(handover.retry_after_seconds for handover in handovers)
    return (
        f"{len(handovers)}: slot taken within {to_slot:.1f} s of the previous run's end, {first_call}"
        f"retried every {retry:.0f} s by the server"
    )


def step_up_table(result: StepUpResult) -> Table:
    table = Table(title=f"step-up of {result.stack}: {', '.join(result.settings)}")
    for column in ("value", "items/s", "gain", "failed items", "429s"):
        table.add_column(column, justify="right")
    for step in result.steps:
        gain = "-" if step.gain is None else f"{step.gain:+.0%}"
        marker = " <- knee" if step.value == result.knee else ""
        table.add_row(
            f"{step.value}{marker}",
            f"{step.items_per_second:.1f}",
            gain,
            f"{step.error_rate:.1%}",
            f"{step.share_429:.1%}",
        )
    return table

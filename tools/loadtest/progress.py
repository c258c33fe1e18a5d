"""The load's progress bar: items the ERP has reconciled so far, read from the ERP's own counters."""

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tools.demo_erp.admin import DemoErpAdmin
from tools.loadtest.driver import FlowRunDriver

REFRESH_SECONDS = 0.5


def reconciled_so_far(admin: DemoErpAdmin) -> int:
    """Accepted calls, less each flow run's one call for its open items (its first accepted call)."""
    stats = admin.stats()
    fetching = sum(caller.accepted > 0 for caller in stats.callers.values())
    return max(0, stats.accepted - fetching)


def follow(admin: DemoErpAdmin, runs: FlowRunDriver, planned_items: int, console: Console) -> None:
    """Until every flow run has ended."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("reconciling", total=planned_items)
        while True:
            running = runs.running()
            progress.update(
                bar,
                completed=min(reconciled_so_far(admin), planned_items),
                description=f"{running}/{len(runs.batches())} runs going",
            )
            if running == 0:
                return
            time.sleep(REFRESH_SECONDS)

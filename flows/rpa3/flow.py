"""Deployment entrypoint: `flows/rpa3/flow.py:rpa3`."""

from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flows.erp_api import OpenItem, Reconciliation
from flows.outcomes import Outcomes
from flows.runtime import ItemOutcome, RunSettings, chunked, observed_run, publish_outcomes, sized
from flows.systems import open_systems, systems
from flows.systems.tables import reconciliations

FLOW = "rpa3"
# Items per task run: a task run costs Prefect's server more than an item's ERP call (docs/benchmarks.md),
# so items go in chunks; each keeps its outcome (the chunk's table artifact, its row in the results database).
ITEMS_PER_TASK = 50


class ReconciliationReport(BaseModel):
    batch: str
    items: int
    matched: int
    mismatched: int
    written: int


@task(cache_policy=NO_CACHE)
def fetch_open_items(batch: str, count: int) -> list[OpenItem]:
    return systems().erp.open_items(batch, count)


@task(cache_policy=NO_CACHE)
def reconcile_items(items: list[OpenItem]) -> list[ItemOutcome[tuple[OpenItem, Reconciliation]]]:
    """One ERP call per item, on the run's item threads; every item's outcome, failed ones included."""
    opened = systems()

    def reconcile(item: OpenItem) -> tuple[OpenItem, Reconciliation]:
        with opened.metrics.item():
            return item, opened.erp.reconcile(item)

    outcomes = opened.items.run(reconcile, items, key=lambda item: item.item_id)
    publish_outcomes(outcomes, "reconciliations")
    return outcomes


@task(cache_policy=NO_CACHE)
def store_reconciliations(outcomes: list[tuple[OpenItem, Reconciliation]]) -> int:
    opened = systems()
    rows = [
        {
            "item_id": item.item_id,
            "account": item.account,
            "amount_cents": item.amount_cents,
            "erp_amount_cents": outcome.erp_amount_cents,
            "status": outcome.status,
            "flow_run_id": opened.run_id,
        }
        for item, outcome in outcomes
    ]
    return opened.results.upsert(reconciliations, rows)


@flow(name="rpa3-reconcile-batch")
def reconcile_batch(
    settings: RunSettings, batch: str, item_count: int, items_per_task: int
) -> ReconciliationReport:
    with open_systems(settings) as opened:
        items = fetch_open_items(batch, item_count)
        chunks = chunked(items, items_per_task)
        outcomes = Outcomes.of_chunks(reconcile_items.map(chunks), chunks)
        opened.metrics.items_finished(len(outcomes.succeeded), len(outcomes.failures))
        written = store_reconciliations(outcomes.succeeded)
    outcomes.raise_if_incomplete("reconciliations")
    statuses = [reconciliation.status for _, reconciliation in outcomes.succeeded]
    return ReconciliationReport(
        batch=batch,
        items=len(items),
        matched=statuses.count("matched"),
        mismatched=statuses.count("mismatch"),
        written=written,
    )


@flow(name=FLOW)
def rpa3(
    item_count: int = 50, batch: str | None = None, items_per_task: int = ITEMS_PER_TASK
) -> ReconciliationReport:
    """Width and timeout come from this run's stack Variables, read now, not at deploy time."""
    if items_per_task < 1:
        raise ValueError(f"items_per_task must be at least 1, not {items_per_task}")
    settings = RunSettings.load(FLOW)
    batch = batch or datetime.now(UTC).strftime("B%Y%m%d")
    with observed_run(settings):
        return sized(reconcile_batch, settings)(settings, batch, item_count, items_per_task)

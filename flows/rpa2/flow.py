"""Deployment entrypoint: `flows/rpa2/flow.py:rpa2`."""

import math

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flows.outcomes import Outcomes
from flows.runtime import RunSettings, observed_run, sized
from flows.systems import open_systems, systems
from flows.systems.tables import customers

FLOW = "rpa2"


class SyncedPage(BaseModel):
    total_customers: int
    stored: int


class SyncReport(BaseModel):
    pages: int
    customers: int


@task(cache_policy=NO_CACHE)
def sync_page(page: int, page_size: int) -> SyncedPage:
    opened = systems()
    with opened.metrics.item():
        fetched = opened.erp.customers(page, page_size)
    rows = [{**customer.model_dump(), "flow_run_id": opened.run_id} for customer in fetched.customers]
    return SyncedPage(total_customers=fetched.total, stored=opened.results.upsert(customers, rows))


@flow(name="rpa2-sync-customers")
def sync_customers(settings: RunSettings, page_size: int) -> SyncReport:
    with open_systems(settings) as opened:
        first = sync_page(0, page_size)
        pages = max(1, math.ceil(first.total_customers / page_size))
        rest = Outcomes.of(sync_page.map(range(1, pages), unmapped(page_size)))
        opened.metrics.items_finished(
            1 + len(rest.succeeded), len(rest.failures)
        )  # the first page, then the rest
    rest.raise_if_incomplete("pages")
    return SyncReport(pages=pages, customers=first.stored + sum(page.stored for page in rest.succeeded))


@flow(name=FLOW)
def rpa2(page_size: int = 20) -> SyncReport:
    settings = RunSettings.load(FLOW)
    with observed_run(settings):
        return sized(sync_customers, settings)(settings, page_size)

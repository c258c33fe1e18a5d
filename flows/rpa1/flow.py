"""Deployment entrypoint: `flows/rpa1/flow.py:rpa1`."""

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flows.erp_api import InvoicePosting, PostedInvoice
from flows.outcomes import Outcomes
from flows.rpa1.documents import demo_documents, extract_invoice, inbox_documents
from flows.runtime import RunSettings, observed_run, sized
from flows.systems import open_systems, systems
from flows.systems.tables import posted_invoices

FLOW = "rpa1"


class IntakeReport(BaseModel):
    documents: int
    posted: int
    recorded: int


@task(cache_policy=NO_CACHE)
def extract(document: str) -> InvoicePosting:
    return extract_invoice(document)


@task(cache_policy=NO_CACHE)
def post_invoice(invoice: InvoicePosting) -> tuple[InvoicePosting, PostedInvoice]:
    opened = systems()
    with opened.metrics.item():
        return invoice, opened.erp.post_invoice(invoice)


@task(cache_policy=NO_CACHE)
def record_postings(postings: list[tuple[InvoicePosting, PostedInvoice]]) -> int:
    opened = systems()
    rows = [
        {
            "invoice_number": invoice.invoice_number,
            "supplier": invoice.supplier,
            "total_cents": invoice.total_cents,
            "currency": invoice.currency,
            "erp_document_id": posted.erp_document_id,
            "flow_run_id": opened.run_id,
        }
        for invoice, posted in postings
    ]
    return opened.results.upsert(posted_invoices, rows)


@flow(name="rpa1-intake-invoices")
def intake_invoices(settings: RunSettings, documents: list[str]) -> IntakeReport:
    with open_systems(settings) as opened:
        # Each posting waits for its own document's extraction only: the two stages overlap.
        posted = Outcomes.of(post_invoice.map(extract.map(documents)))
        opened.metrics.items_finished(len(posted.succeeded), len(posted.failures))
        recorded = record_postings(posted.succeeded)
    posted.raise_if_incomplete("documents")
    return IntakeReport(documents=len(documents), posted=len(posted.succeeded), recorded=recorded)


@flow(name=FLOW)
def rpa1(document_count: int = 30, inbox: str | None = None, batch: str | None = None) -> IntakeReport:
    """Documents from `inbox` (*.txt) when given, else `document_count` generated demo documents."""
    settings = RunSettings.load(FLOW)
    if inbox is not None:
        documents = inbox_documents(Path(inbox))
    else:
        documents = demo_documents(batch or datetime.now(UTC).strftime("%Y%m%d"), document_count)
    with observed_run(settings):
        return sized(intake_invoices, settings)(settings, documents)

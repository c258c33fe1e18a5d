"""The ERP API's requests and answers: the contract between the flows' ERP client (`flows.systems.erp`) and
the demo ERP (`tools.demo_erp`). Pydantic only, so the demo ERP does not import Prefect."""

from typing import Final

from pydantic import BaseModel

# Every call names the flow run making it: the ERP's records (and the demo ERP's meters) tell who called.
CALLER_HEADER: Final = "X-Rpa-Flow-Run"


class OpenItem(BaseModel):
    item_id: str
    account: str
    amount_cents: int


class ReconciliationRequest(BaseModel):
    item_id: str
    amount_cents: int


class Reconciliation(BaseModel):
    item_id: str
    erp_amount_cents: int
    status: str


class InvoicePosting(BaseModel):
    invoice_number: str
    supplier: str
    total_cents: int
    currency: str
    due_date: str


class PostedInvoice(BaseModel):
    invoice_number: str
    erp_document_id: str


class Customer(BaseModel):
    customer_id: str
    name: str
    email: str
    credit_limit_cents: int


class CustomerPage(BaseModel):
    total: int
    page: int
    page_size: int
    customers: list[Customer]

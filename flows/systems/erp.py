"""The ERP's API as the flows use it: typed requests and answers over the guarded HTTP service."""

from flows.erp_api import (
    CustomerPage,
    InvoicePosting,
    OpenItem,
    PostedInvoice,
    Reconciliation,
    ReconciliationRequest,
)
from flows.runtime import GuardedHttpService


class ErpApi:
    def __init__(self, service: GuardedHttpService) -> None:
        self.service = service

    def open_items(self, batch: str, count: int) -> list[OpenItem]:
        answer = self.service.request("GET", "/api/open-items", params={"batch": batch, "count": count})
        return [OpenItem.model_validate(item) for item in answer]

    def reconcile(self, item: OpenItem) -> Reconciliation:
        body = ReconciliationRequest(item_id=item.item_id, amount_cents=item.amount_cents).model_dump()
        return Reconciliation.model_validate(self.service.request("POST", "/api/reconciliations", json=body))

    def post_invoice(self, invoice: InvoicePosting) -> PostedInvoice:
        answer = self.service.request("POST", "/api/invoices", json=invoice.model_dump())
        return PostedInvoice.model_validate(answer)

    def customers(self, page: int, page_size: int) -> CustomerPage:
        params = {"page": page, "page_size": page_size}
        return CustomerPage.model_validate(self.service.request("GET", "/api/customers", params=params))

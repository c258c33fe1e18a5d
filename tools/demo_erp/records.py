"""Deterministic demo data: the same request always gets the same answer, so reruns and retries are safe."""

import hashlib

CUSTOMER_COUNT = 240


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def open_items(batch: str, count: int) -> list[dict[str, object]]:
    return [
        {
            "item_id": f"{batch}-{index:05d}",
            "account": f"1{_digest(f'{batch}/{index}/account') % 900 + 100}",
            "amount_cents": _digest(f"{batch}/{index}/amount") % 500_000 + 100,
        }
        for index in range(count)
    ]


def reconcile(item_id: str, amount_cents: int) -> dict[str, object]:
    # One item in ten disagrees with the ERP's books, like a real reconciliation run.
    erp_amount = amount_cents if _digest(item_id) % 10 else amount_cents + _digest(item_id) % 1000 + 1
    return {
        "item_id": item_id,
        "erp_amount_cents": erp_amount,
        "status": "matched" if erp_amount == amount_cents else "mismatch",
    }


def post_invoice(invoice_number: str) -> dict[str, object]:
    return {
        "invoice_number": invoice_number,
        "erp_document_id": f"ERP-{_digest(invoice_number) % 10**10:010d}",
    }


def customers_page(page: int, page_size: int) -> dict[str, object]:
    first = page * page_size
    customers = [
        {
            "customer_id": f"C{index:06d}",
            "name": f"Customer {index}",
            "email": f"customer{index}@example.test",
            "credit_limit_cents": _digest(f"customer/{index}") % 10_000_000,
        }
        for index in range(first, min(first + page_size, CUSTOMER_COUNT))
    ]
    return {"total": CUSTOMER_COUNT, "page": page, "page_size": page_size, "customers": customers}

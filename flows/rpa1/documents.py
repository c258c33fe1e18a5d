"""Invoice documents as the intake robot sees them (plain text, as OCR or an e-mail body would give it), and
the extraction of the fields the ERP needs."""

import hashlib
import re
from pathlib import Path

from flows.erp_api import InvoicePosting

_SUPPLIERS = ("ACME Tools GmbH", "Nordlicht Logistics AB", "Pacific Paper Co.", "Rossi Impianti S.r.l.")

_FIELDS = {
    "invoice_number": r"Invoice number:\s*(\S+)",
    "supplier": r"Supplier:\s*(.+)",
    "due_date": r"Due date:\s*(\d{4}-\d{2}-\d{2})",
    "currency": r"Currency:\s*([A-Z]{3})",
    "total": r"Total:\s*([\d,]+\.\d{2})",
}


class UnreadableInvoiceError(ValueError):
    pass


def demo_documents(batch: str, count: int) -> list[str]:
    documents = []
    for index in range(count):
        digest = int.from_bytes(hashlib.sha256(f"{batch}/{index}".encode()).digest()[:8], "big")
        total = digest % 2_000_000 + 100
        documents.append(
            "INVOICE\n"
            f"Invoice number: {batch}-INV-{index:05d}\n"
            f"Supplier: {_SUPPLIERS[digest % len(_SUPPLIERS)]}\n"
            f"Due date: 2025-{digest % 12 + 1:02d}-{digest % 28 + 1:02d}\n"
            "Currency: EUR\n"
            f"Total: {total // 100:,}.{total % 100:02d}\n"
        )
    return documents


def inbox_documents(inbox: Path) -> list[str]:
    return [path.read_text() for path in sorted(inbox.glob("*.txt"))]


def extract_invoice(document: str) -> InvoicePosting:
    found = {name: re.search(pattern, document) for name, pattern in _FIELDS.items()}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise UnreadableInvoiceError(f"invoice without {', '.join(missing)}: {document[:60]!r}")
    fields = {name: match.group(1).strip() for name, match in found.items() if match is not None}
    return InvoicePosting(
        invoice_number=fields["invoice_number"],
        supplier=fields["supplier"],
        due_date=fields["due_date"],
        currency=fields["currency"],
        total_cents=round(float(fields["total"].replace(",", "")) * 100),
    )

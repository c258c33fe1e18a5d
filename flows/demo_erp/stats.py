"""What the demo ERP reports about the traffic it saw (`GET /_admin/stats`)."""

from pydantic import BaseModel


class ErpStats(BaseModel):
    arrivals: int = 0
    accepted: int = 0
    rejected_for_concurrency: int = 0
    rejected_for_rate: int = 0
    failed_by_injection: int = 0
    # A retry that came back before the Retry-After this ERP asked for (matched by Idempotency-Key).
    early_retries: int = 0
    highest_concurrency: int = 0
    highest_arrivals_per_second: int = 0
    # Wall-clock (time.time()) of the first arrival and the last completed request; None before any traffic.
    first_arrival: float | None = None
    last_arrival: float | None = None
    last_completion: float | None = None

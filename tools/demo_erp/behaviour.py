"""How the demo ERP behaves: latency, its own limits, and injected failures. Changeable at run time."""

from pydantic import BaseModel, Field


class ErpBehaviour(BaseModel):
    latency_seconds: float = Field(default=0.05, ge=0)
    # The ERP's own protection: beyond these it answers 429 with Retry-After. None means "not enforced".
    max_concurrency: int | None = Field(default=None, ge=1)
    # How many requests it serves at once; the others wait in line (FIFO), so an overloaded ERP slows down
    # instead of refusing: what a latency-watching client must notice. None means "as many as arrive".
    capacity: int | None = Field(default=None, ge=1)
    rate_per_second: float | None = Field(default=None, gt=0)
    # Token-bucket capacity: the shape of a Prefect rate limit (limit = burst, slot decay = rate).
    rate_burst: int | None = Field(default=None, ge=1)
    retry_after_seconds: int = Field(default=1, ge=0)
    # When set, every business request fails with this status: an outage, for circuit-breaker demos.
    failure_status: int | None = Field(default=None, ge=500, le=599)

"""What the demo ERP reports about the traffic it saw (`GET /_admin/stats`)."""

from pydantic import BaseModel


class CallerStats(BaseModel):
    """One caller's traffic, told apart by the caller header (the flow run, for the RPA flows)."""

    first_arrival: float
    last_completion: float | None = None
    accepted: int = 0


class ErpStats(BaseModel):
    arrivals: int = 0
    accepted: int = 0
    rejected_for_concurrency: int = 0
    rejected_for_rate: int = 0
    failed_by_injection: int = 0
    # A retry that came back before the Retry-After this ERP asked for (matched by Idempotency-Key).
    early_retries: int = 0
    highest_concurrency: int = 0
    # Admitted requests waiting for a place in service at once (ErpBehaviour.capacity), at most.
    highest_waiting: int = 0
    # Requests being served at once (after their wait in line), at most: never above its capacity.
    highest_in_service: int = 0
    highest_arrivals_per_second: int = 0
    # Wall-clock (time.time()) of the first arrival and the last completed request; None before any traffic.
    first_arrival: float | None = None
    last_arrival: float | None = None
    last_completion: float | None = None
    # The longest time between two arrivals: how long the callers paused, e.g. while their server was down.
    longest_pause_seconds: float = 0.0
    # Seconds of requests in flight, summed over requests: divided by a span of time, the mean in flight.
    request_seconds: float = 0.0
    callers: dict[str, CallerStats] = {}

    def mean_concurrency(self) -> float:
        """Requests in flight on average, from the first arrival to the last completion."""
        if self.first_arrival is None or self.last_completion is None:
            return 0.0
        return self.request_seconds / max(self.last_completion - self.first_arrival, 1e-9)

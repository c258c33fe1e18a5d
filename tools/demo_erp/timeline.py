"""The demo ERP's traffic over time (`GET /_admin/timeline`): per fixed interval, the highest concurrency, the
arrivals, what was accepted and refused, and the latency of the accepted requests. A load test draws its
pictures from this, so what it shows is what the ERP saw, not what the callers believe they did."""

import math
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel

BUCKET_SECONDS = 0.25
# Enough for a long load test; a demo ERP left running for days keeps the newest ones only.
KEPT_LATENCIES = 100_000
KEPT_BUCKETS = 100_000


class TimelineBucket(BaseModel):
    start: float  # wall clock (time.time()) at the bucket's start
    # As ErpStats.highest_concurrency: the requests in flight counting an arriving one, refused or not.
    highest_concurrency: int = 0
    arrivals: int = 0
    accepted: int = 0
    rejected: int = 0  # 429s (its own limits), or the injected failure status
    completed: int = 0


class ErpTimeline(BaseModel):
    bucket_seconds: float
    buckets: list[TimelineBucket]
    completed: int
    # Seconds from arrival to answer of accepted requests, as the ERP served them; None before any.
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class TimelineRecorder:
    """Fed by the gatekeeper on each arrival and completion; buckets exist only where something happened, and
    `snapshot()` fills the gaps with the concurrency that was held through them."""

    bucket_seconds: float = BUCKET_SECONDS
    _buckets: dict[int, TimelineBucket] = field(default_factory=dict)
    _in_flight_after: dict[int, int] = field(default_factory=dict)  # requests in flight at a bucket's end
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT_LATENCIES))
    _completed: int = 0

    def _bucket(self, now: float, in_flight: int) -> TimelineBucket:
        index = math.floor(now / self.bucket_seconds)
        bucket = self._buckets.get(index)
        if bucket is None:
            if len(self._buckets) >= KEPT_BUCKETS:
                oldest = min(self._buckets)
                del self._buckets[oldest]
                self._in_flight_after.pop(oldest, None)
            # What was already in flight when the bucket began counts towards its concurrency.
            bucket = TimelineBucket(start=index * self.bucket_seconds, highest_concurrency=in_flight)
            self._buckets[index] = bucket
        return bucket

    def arrival(self, now: float, in_flight: int, accepted: bool) -> None:
        """`in_flight`: the requests in flight before this one arrived."""
        bucket = self._bucket(now, in_flight)
        bucket.arrivals += 1
        bucket.highest_concurrency = max(bucket.highest_concurrency, in_flight + 1)
        if accepted:
            bucket.accepted += 1
        else:
            bucket.rejected += 1
        self._in_flight_after[math.floor(now / self.bucket_seconds)] = in_flight + int(accepted)

    def completion(self, now: float, in_flight: int, latency_seconds: float | None) -> None:
        """`in_flight`: the requests still in flight after this one completed; `latency_seconds` None when the
        caller did not time the request."""
        bucket = self._bucket(now, in_flight + 1)
        bucket.completed += 1
        self._in_flight_after[math.floor(now / self.bucket_seconds)] = in_flight
        self._completed += 1
        if latency_seconds is not None:
            self._latencies.append(latency_seconds)

    def snapshot(self) -> ErpTimeline:
        buckets: list[TimelineBucket] = []
        if self._buckets:
            in_flight = 0
            for index in range(min(self._buckets), max(self._buckets) + 1):
                recorded = self._buckets.get(index)
                buckets.append(
                    recorded.model_copy()
                    if recorded is not None
                    else TimelineBucket(start=index * self.bucket_seconds, highest_concurrency=in_flight)
                )
                in_flight = self._in_flight_after.get(index, in_flight)
        latencies = sorted(self._latencies)
        return ErpTimeline(
            bucket_seconds=self.bucket_seconds,
            buckets=buckets,
            completed=self._completed,
            latency_p50_seconds=percentile(latencies, 0.50),
            latency_p95_seconds=percentile(latencies, 0.95),
        )

"""The demo ERP's traffic over time (`GET /_admin/timeline`): per fixed interval, the highest concurrency
(asked for, admitted, waiting in line), the arrivals, what was accepted and refused, and the latency of the
requests answered in it; and every change of its limits (a schedule's steps). A load test draws its pictures
from this, so what it shows is what the ERP saw, not what the callers believe they did."""

import math
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel

from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.stats import CallerStats

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
    # Admitted requests in flight (waiting in line or served), at most: never above its max_concurrency.
    highest_admitted: int = 0
    # Admitted requests waiting for a place in service (ErpBehaviour.capacity), at most.
    highest_waiting: int = 0
    # Admitted requests in flight, summed over the interval: divided by its length, the mean in flight.
    in_flight_seconds: float = 0.0
    # Arrival to answer of the accepted requests answered in this interval (waiting in line included).
    latency_mean_seconds: float | None = None
    latency_p95_seconds: float | None = None


class BehaviourChange(BaseModel):
    """The limits in force from `at` (wall clock) on: set through the admin API or by a schedule's step."""

    at: float
    max_concurrency: int | None
    capacity: int | None
    latency_seconds: float


class LatencySummary(BaseModel):
    """Latencies of the requests answered in a span of time (`GET /_admin/latencies?since=&until=`)."""

    count: int
    p50_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None


class ErpTimeline(BaseModel):
    bucket_seconds: float
    buckets: list[TimelineBucket]
    completed: int
    # Seconds from arrival to answer of accepted requests, as the ERP served them; None before any.
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None
    changes: list[BehaviourChange] = []
    # Per caller (the flow run, for the RPA flows): its first arrival, last completion and calls accepted.
    callers: dict[str, CallerStats] = {}


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
    # (answered at, seconds) of each timed request: percentiles over the run and over any span of it.
    _latencies: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=KEPT_LATENCIES))
    _bucket_latencies: dict[int, list[float]] = field(default_factory=dict)
    _changes: list[BehaviourChange] = field(default_factory=list)
    _completed: int = 0
    _in_flight_seconds: dict[int, float] = field(default_factory=dict)  # per bucket
    _in_flight: int = 0  # admitted requests in flight since the last arrival or completion
    _last_change: float | None = None
    _callers: dict[str, CallerStats] = field(default_factory=dict)

    def _bucket(self, now: float, in_flight: int) -> TimelineBucket:
        index = math.floor(now / self.bucket_seconds)
        bucket = self._buckets.get(index)
        if bucket is None:
            if len(self._buckets) >= KEPT_BUCKETS:
                oldest = min(self._buckets)
                del self._buckets[oldest]
                self._in_flight_after.pop(oldest, None)
                self._in_flight_seconds.pop(oldest, None)
                self._bucket_latencies.pop(oldest, None)
            # What was already in flight when the bucket began counts towards its concurrency.
            bucket = TimelineBucket(
                start=index * self.bucket_seconds, highest_concurrency=in_flight, highest_admitted=in_flight
            )
            self._buckets[index] = bucket
        return bucket

    def _in_flight_until(self, now: float, in_flight: int) -> None:
        """Sum the requests in flight since the last change into the buckets up to `now`; `in_flight` from
        then on."""
        since, self._last_change = self._last_change, now
        held, self._in_flight = self._in_flight, in_flight
        if since is None or held == 0:
            return
        index = math.floor(since / self.bucket_seconds)
        while since < now:
            until = min(now, (index + 1) * self.bucket_seconds)
            self._in_flight_seconds[index] = self._in_flight_seconds.get(index, 0.0) + held * (until - since)
            since, index = until, index + 1

    def arrival(self, now: float, in_flight: int, accepted: bool, caller: str | None = None) -> None:
        """`in_flight`: the requests in flight before this one arrived."""
        self._in_flight_until(now, in_flight + int(accepted))
        if caller is not None:
            seen = self._callers.setdefault(caller, CallerStats(first_arrival=now))
            seen.accepted += int(accepted)
        bucket = self._bucket(now, in_flight)
        bucket.arrivals += 1
        bucket.highest_concurrency = max(bucket.highest_concurrency, in_flight + 1)
        if accepted:
            bucket.accepted += 1
            bucket.highest_admitted = max(bucket.highest_admitted, in_flight + 1)
        else:
            bucket.rejected += 1
        self._in_flight_after[math.floor(now / self.bucket_seconds)] = in_flight + int(accepted)

    def completion(
        self, now: float, in_flight: int, latency_seconds: float | None, caller: str | None = None
    ) -> None:
        """`in_flight`: the requests still in flight after this one completed; `latency_seconds` None when the
        caller did not time the request."""
        self._in_flight_until(now, in_flight)
        if caller in self._callers:
            self._callers[caller].last_completion = now
        bucket = self._bucket(now, in_flight + 1)
        bucket.completed += 1
        bucket.highest_admitted = max(bucket.highest_admitted, in_flight + 1)
        index = math.floor(now / self.bucket_seconds)
        self._in_flight_after[index] = in_flight
        self._completed += 1
        if latency_seconds is not None:
            self._latencies.append((now, latency_seconds))
            self._bucket_latencies.setdefault(index, []).append(latency_seconds)

    def waiting(self, now: float, in_flight: int, waiting: int) -> None:
        """An admitted request joined the line: `waiting` requests (itself included) now wait for service."""
        bucket = self._bucket(now, in_flight)
        bucket.highest_waiting = max(bucket.highest_waiting, waiting)

    def behaviour_changed(self, now: float, behaviour: ErpBehaviour) -> None:
        self._changes.append(
            BehaviourChange(
                at=now,
                max_concurrency=behaviour.max_concurrency,
                capacity=behaviour.capacity,
                latency_seconds=behaviour.latency_seconds,
            )
        )

    def latencies_between(self, since: float, until: float) -> LatencySummary:
        """The requests answered from `since` to before `until` (wall clock), e.g. one phase of a schedule."""
        values = sorted(seconds for at, seconds in self._latencies if since <= at < until)
        return LatencySummary(
            count=len(values),
            p50_seconds=percentile(values, 0.50),
            p95_seconds=percentile(values, 0.95),
            max_seconds=values[-1] if values else None,
        )

    def snapshot(self) -> ErpTimeline:
        buckets: list[TimelineBucket] = []
        if self._buckets:
            in_flight = 0
            for index in range(min(self._buckets), max(self._buckets) + 1):
                recorded = self._buckets.get(index)
                if recorded is None:
                    bucket = TimelineBucket(
                        start=index * self.bucket_seconds,
                        highest_concurrency=in_flight,
                        highest_admitted=in_flight,
                    )
                else:
                    bucket = recorded.model_copy()
                    values = sorted(self._bucket_latencies.get(index, []))
                    if values:
                        bucket.latency_mean_seconds = sum(values) / len(values)
                        bucket.latency_p95_seconds = percentile(values, 0.95)
                bucket.in_flight_seconds = self._in_flight_seconds.get(index, 0.0)
                buckets.append(bucket)
                in_flight = self._in_flight_after.get(index, in_flight)
        latencies = sorted(seconds for _, seconds in self._latencies)
        return ErpTimeline(
            bucket_seconds=self.bucket_seconds,
            buckets=buckets,
            completed=self._completed,
            latency_p50_seconds=percentile(latencies, 0.50),
            latency_p95_seconds=percentile(latencies, 0.95),
            changes=[change.model_copy() for change in self._changes],
            callers={caller: seen.model_copy() for caller, seen in self._callers.items()},
        )

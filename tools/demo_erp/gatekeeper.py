"""The demo ERP's admission decision and bookkeeping for every business request."""

import math
from dataclasses import dataclass, field

from flows.clock import SYSTEM_CLOCK, Clock
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.meters import ConcurrencyGauge, SlidingWindowRate, TokenBucket
from tools.demo_erp.stats import CallerStats, ErpStats
from tools.demo_erp.timeline import TimelineRecorder


@dataclass(frozen=True)
class Rejection:
    status: int
    retry_after_seconds: int | None


@dataclass
class Gatekeeper:
    behaviour: ErpBehaviour
    stats: ErpStats = field(default_factory=ErpStats)
    gauge: ConcurrencyGauge = field(default_factory=ConcurrencyGauge)
    window: SlidingWindowRate = field(default_factory=SlidingWindowRate)
    bucket: TokenBucket | None = None
    timeline: TimelineRecorder = field(default_factory=TimelineRecorder)
    # Idempotency-Key -> earliest wall-clock time a retry was told it may come back.
    retry_not_before: dict[str, float] = field(default_factory=dict)
    # Arrival and finish times are read from it; `finish(arrived_at=...)` takes its monotonic time.
    clock: Clock = SYSTEM_CLOCK

    def __post_init__(self) -> None:
        self.reconfigure(self.behaviour)

    def reconfigure(self, behaviour: ErpBehaviour) -> None:
        self.behaviour = behaviour
        rate = behaviour.rate_per_second
        self.bucket = (
            None if rate is None else TokenBucket(rate, behaviour.rate_burst or max(1, math.ceil(rate)))
        )

    def reset(self) -> None:
        self.stats = ErpStats()
        self.gauge = ConcurrencyGauge(current=self.gauge.current, _changed_at=self.clock.monotonic())
        self.window = SlidingWindowRate()
        self.timeline = TimelineRecorder(self.timeline.bucket_seconds)
        self.retry_not_before.clear()
        self.reconfigure(self.behaviour)

    def admit(self, idempotency_key: str | None, caller: str | None = None) -> Rejection | None:
        """Decide on an arriving request; when admitted, the caller must call `finish()` afterwards."""
        now, monotonic = self.clock.now().timestamp(), self.clock.monotonic()
        stats = self.stats
        stats.arrivals += 1
        stats.first_arrival = stats.first_arrival or now
        if stats.last_arrival is not None:
            stats.longest_pause_seconds = max(stats.longest_pause_seconds, now - stats.last_arrival)
        stats.last_arrival = now
        if caller is not None and caller not in stats.callers:
            stats.callers[caller] = CallerStats(first_arrival=now)
        self.window.record(monotonic)
        stats.highest_arrivals_per_second = self.window.highest
        self.gauge.observe_arrival()
        stats.highest_concurrency = self.gauge.highest
        if idempotency_key is not None and now < self.retry_not_before.pop(idempotency_key, 0.0):
            stats.early_retries += 1

        rejection = self._rejection(monotonic)
        self.timeline.arrival(now, self.gauge.current, accepted=rejection is None)
        if rejection is None:
            self.gauge.enter(monotonic)
            stats.accepted += 1
            if caller is not None:
                stats.callers[caller].accepted += 1
        elif rejection.retry_after_seconds is not None and idempotency_key is not None:
            self.retry_not_before[idempotency_key] = now + rejection.retry_after_seconds
        return rejection

    def _rejection(self, monotonic: float) -> Rejection | None:
        behaviour = self.behaviour
        if behaviour.failure_status is not None:
            self.stats.failed_by_injection += 1
            return Rejection(behaviour.failure_status, None)
        if behaviour.max_concurrency is not None and self.gauge.would_be() > behaviour.max_concurrency:
            self.stats.rejected_for_concurrency += 1
            return Rejection(429, behaviour.retry_after_seconds)
        if self.bucket is not None and not self.bucket.try_take(monotonic):
            self.stats.rejected_for_rate += 1
            return Rejection(429, behaviour.retry_after_seconds)
        return None

    def finish(self, caller: str | None = None, arrived_at: float | None = None) -> None:
        """`arrived_at`: the clock's monotonic time when the request arrived, for the timeline's latencies."""
        monotonic = self.clock.monotonic()
        self.gauge.leave(monotonic)
        now = self.clock.now().timestamp()
        latency = None if arrived_at is None else monotonic - arrived_at
        self.timeline.completion(now, self.gauge.current, latency)
        self.stats.last_completion = now
        self.stats.request_seconds = self.gauge.request_seconds
        if caller is not None:
            self.stats.callers[caller].last_completion = now

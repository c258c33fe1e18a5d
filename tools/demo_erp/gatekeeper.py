"""The demo ERP's admission decision and bookkeeping for every business request, its line for service, and
the schedule that changes its behaviour over time."""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from flows.clock import SYSTEM_CLOCK, Clock
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.meters import ConcurrencyGauge, SlidingWindowRate, TokenBucket
from tools.demo_erp.schedule import BehaviourSchedule
from tools.demo_erp.service_line import ServiceLine
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
    line: ServiceLine = field(default_factory=ServiceLine)
    schedule: BehaviourSchedule | None = None
    _applied_steps: int = 0
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
        self.line.resize(behaviour.capacity)
        self.timeline.behaviour_changed(self.clock.now().timestamp(), behaviour)

    def configure(self, behaviour: ErpBehaviour) -> None:
        """A behaviour set from outside: it ends any schedule (the last word is the operator's)."""
        self.schedule = None
        self.reconfigure(behaviour)

    def start_schedule(self, schedule: BehaviourSchedule) -> None:
        self.schedule = schedule
        self._applied_steps = 0
        self.apply_due()

    def apply_due(self) -> None:
        """Apply the schedule's steps whose time has come. Called on every arrival and completion, and by the
        app's ticker a few times a second: a step applies on time even when no request comes."""
        schedule = self.schedule
        if schedule is None:
            return
        due = schedule.due(self.clock.now().timestamp(), self._applied_steps)
        while self._applied_steps < due:
            self.reconfigure(schedule.steps[self._applied_steps].behaviour)
            self._applied_steps += 1

    def reset(self) -> None:
        self.apply_due()  # the new timeline starts with the step in force now, not a stale one
        self.stats = ErpStats()
        self.gauge = ConcurrencyGauge(current=self.gauge.current, _changed_at=self.clock.monotonic())
        self.window = SlidingWindowRate()
        self.timeline = TimelineRecorder(self.timeline.bucket_seconds)
        self.retry_not_before.clear()
        self.reconfigure(self.behaviour)  # the new timeline starts with the behaviour in force

    def admit(self, idempotency_key: str | None, caller: str | None = None) -> Rejection | None:
        """Decide on an arriving request; when admitted, the caller must call `finish()` afterwards."""
        self.apply_due()
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
        self.timeline.arrival(now, self.gauge.current, accepted=rejection is None, caller=caller)
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

    @asynccontextmanager
    async def served(self) -> AsyncIterator[None]:
        """An admitted request's service: it waits in line while the ERP serves `capacity` others."""
        if not self.line.has_room() or self.line.waiting:
            waiting = self.line.waiting + 1
            self.stats.highest_waiting = max(self.stats.highest_waiting, waiting)
            self.timeline.waiting(self.clock.now().timestamp(), self.gauge.current, waiting)
        async with self.line.served():
            self.stats.highest_in_service = max(self.stats.highest_in_service, self.line.in_service)
            yield

    def finish(self, caller: str | None = None, arrived_at: float | None = None) -> None:
        """`arrived_at`: the clock's monotonic time when the request arrived, for the timeline's latencies."""
        self.apply_due()
        monotonic = self.clock.monotonic()
        self.gauge.leave(monotonic)
        now = self.clock.now().timestamp()
        latency = None if arrived_at is None else monotonic - arrived_at
        self.timeline.completion(now, self.gauge.current, latency, caller)
        self.stats.last_completion = now
        self.stats.request_seconds = self.gauge.request_seconds
        if caller is not None:
            self.stats.callers[caller].last_completion = now

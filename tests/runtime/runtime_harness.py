"""Slot pools and tasks on a manual clock over the in-memory limits API: every thread waits on the clock, so
`clock.run_for(seconds, threads)` replays seconds of the runtime's life in milliseconds, deterministically."""

import threading
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

import httpx

from flows.clock import Clock
from flows.runtime.deadline import Deadline
from flows.runtime.limits_api import ServerBusy
from flows.runtime.rate_limiter import RateLimiter
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.runtime_events import RuntimeEvents
from flows.runtime.slot_pool import SlotPolicy, SlotPool
from tests.support.manual_clock import ManualClock
from tests.support.memory_limits_api import MemoryLimitsApi

Made = TypeVar("Made")


class FlakyLimitsApi(MemoryLimitsApi):
    """Renewals fail (the server unreachable for them) while `renewals_fail` is set. Counts the leases it
    granted."""

    renewals_fail = False
    granted = 0

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        lease_id = super().lease_slots(name, slots, lease_seconds)
        self.granted += lease_id is not None
        return lease_id

    def renew(self, lease_id: UUID, lease_seconds: float) -> bool:
        if self.renewals_fail:
            raise ConnectionError("renewal lost on the way")
        return super().renew(lease_id, lease_seconds)


def quiet_events(metrics: RunMetrics) -> RuntimeEvents:
    return RuntimeEvents(metrics, [], emit=lambda **_: None, drain=lambda: None)


def new_pool(
    name: str, api: MemoryLimitsApi, clock: ManualClock, policy: SlotPolicy | None = None
) -> SlotPool:
    metrics = RunMetrics()
    return SlotPool(
        name, api, policy or SlotPolicy(), metrics=metrics, events=quiet_events(metrics), clock=clock
    )


def with_manager(make: Callable[[], Made]) -> tuple[Made, threading.Thread]:
    """A slot pool or rate limiter made by `make`, and the manager thread it started."""
    before = set(threading.enumerate())
    made = make()
    (manager,) = [
        t for t in threading.enumerate() if t not in before and t.name.startswith(("slots:", "rate:"))
    ]
    return made, manager


class SlowLimitsApi(MemoryLimitsApi):
    """Rate-token writes land `write_latency` seconds (on the clock) after they are sent, as on a busy
    server; `busy_answers` of them are refused as ServerBusy first."""

    write_latency = 0.0
    busy_answers = 0

    def take_rate_tokens(self, name: str, count: int) -> bool:
        if self.write_latency > 0:
            lock = threading.Lock()
            with lock:
                self.clock.condition(lock).wait(self.write_latency)
        if self.busy_answers > 0:
            self.busy_answers -= 1
            raise ServerBusy(
                httpx.Response(503, request=httpx.Request("POST", "http://memory/api/increment"))
            )
        return super().take_rate_tokens(name, count)


class TokenTask(threading.Thread):
    """Calls as fast as the rate limiter lets it, until stopped; records when each call started."""

    def __init__(self, limiter: RateLimiter, clock: Clock) -> None:
        super().__init__(daemon=True)
        self._limiter, self._clock = limiter, clock
        self._stopping = False
        self.calls: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping:
                with self._limiter.wait_for_token(Deadline.after(600.0, self._clock)):
                    self.calls.append(self._clock.monotonic())
                    self._call()
                self._between_calls()
        except BaseException as error:  # reported to the test through `error`; closing ends the task
            if not self._stopping:
                self.error = error

    def _call(self) -> None:
        """The call made with the token: none here, at once."""

    def _between_calls(self) -> None:
        """What the task does with no slot before it asks for its next token: nothing here."""

    def stop(self) -> None:
        self._stopping = True


class Task(threading.Thread):
    """Holds a slot (or the slots `take_up_to` gives) until `finish()`; waits on the clock alone."""

    def __init__(self, pool: SlotPool, clock: ManualClock, timeout_seconds: float = 120.0) -> None:
        super().__init__(daemon=True)
        self._pool, self._clock, self._timeout = pool, clock, timeout_seconds
        self._lock = threading.Lock()
        self._done = clock.condition(self._lock)
        self._finishing = False
        self.holding = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self._pool.slot(Deadline.after(self._timeout, self._clock)), self._lock:
                self.holding = True
                while not self._finishing:
                    self._done.wait()
        except BaseException as error:  # reported to the test through `error`
            self.error = error
        finally:
            self.holding = False

    def finish(self) -> None:
        with self._lock:
            self._finishing = True
            self._done.notify()


class Worker(threading.Thread):
    """A task after another: each takes a slot, works `work_seconds` (on the clock), gives it back."""

    def __init__(self, pool: SlotPool, clock: ManualClock, work_seconds: float) -> None:
        super().__init__(daemon=True)
        self._pool, self._clock, self._work_seconds = pool, clock, work_seconds
        self._lock = threading.Lock()
        self._working = clock.condition(self._lock)
        self._stopping = False
        self.done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping:
                with self._pool.slot(Deadline.after(600.0, self._clock)), self._lock:
                    self._working.wait(self._work_seconds)
                    self.done += 1
        except BaseException as error:  # reported to the test through `error`
            self.error = error

    def stop(self) -> None:
        with self._lock:
            self._stopping = True

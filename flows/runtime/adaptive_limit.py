"""How many calls one flow run keeps in flight to one external service, learned from what the service answers.

The design, and the reasons for it: docs/runtime.md#adaptivelimit."""

import math
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime.deadline import Deadline
from flows.runtime.errors import SlotWaitTimeout

Reason = Literal["429", "timeout", "latency", "success"]


@dataclass(frozen=True)
class AdaptivePolicy:
    floor: int  # never below: the stack file's `adaptive.floor`
    ceiling: int  # never above: the global limit's size (or the run's width, if smaller)
    decrease_factor: float = 0.7
    allowed_queue: float = 2.0  # this run's calls waiting inside the service before latency lowers the target
    baseline_drift: float = 0.005
    cautious_windows: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.ceiling:
            raise ValueError(f"adaptive limit: floor {self.floor} not from 1 to the ceiling {self.ceiling}")
        if not 0 < self.decrease_factor < 1:
            raise ValueError(f"adaptive limit: decrease_factor {self.decrease_factor} must be in (0, 1)")


@dataclass(frozen=True)
class TargetChange:
    service: str
    at: float  # on the limit's clock (monotonic)
    target: int
    previous: int
    reason: Reason


class AdaptiveCall:
    """One permitted call: tell the limit how the service answered it (or nothing, if it did not)."""

    def __init__(self, limit: "AdaptiveLimit", decreases: int, changes: int) -> None:
        self._limit = limit
        self._decreases = decreases  # how many times the target had fallen when this call started
        self._changes = changes  # how many times it had changed

    def answered(self, seconds: float) -> None:
        """The service answered (anything but a 429) after `seconds`."""
        self._limit._answered(seconds, self._changes)

    def overloaded(self, reason: Literal["429", "timeout"]) -> None:
        self._limit._overloaded(reason, self._decreases)


class AdaptiveLimit:
    def __init__(
        self,
        service: str,
        policy: AdaptivePolicy,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_change: Callable[[TargetChange], None] = lambda change: None,
    ) -> None:
        """`on_change` is called, outside the lock, after each change of the target."""
        self.service = service
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._permit_free = clock.condition(self._lock)
        self._target = policy.ceiling  # the operators' number until the service says otherwise
        self._in_flight = 0
        # A call remembers under which target it started: overloads of calls older than the last decrease,
        # and answers of calls older than the last change, say nothing about the current target.
        self._decreases = 0
        self._changes = 0
        self._baseline: float | None = None
        self._round_trip = 0.0  # smoothed latency of the service's answers
        self._hold_decreases_until = -math.inf
        self._refused_at: int | None = None  # the target the service last refused calls at
        self._calm_windows = 0  # windows in a row that held calls back and met no overload
        self._window_size = self._target
        self._window: list[float] = []  # answers' latencies, at most the ceiling of them
        self._window_bound = False  # a call found every permit taken during this window

    @property
    def target(self) -> int:
        return self._target

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def permit(self, deadline: Deadline) -> Iterator[AdaptiveCall]:
        with self._lock:
            while self._in_flight >= self._target:
                self._window_bound = True
                if (remaining := deadline.expires_at - self._clock.monotonic()) <= 0:
                    raise SlotWaitTimeout(
                        f"{self.service} (adaptive)",
                        deadline.seconds,
                        f"the service's adaptive target is {self._target}, all in flight",
                    )
                self._permit_free.wait(remaining)
            self._in_flight += 1
            if self._in_flight >= self._target:
                self._window_bound = True
            call = AdaptiveCall(self, self._decreases, self._changes)
        try:
            yield call
        finally:
            with self._lock:
                self._in_flight -= 1
                self._permit_free.notify()

    def _answered(self, seconds: float, changes: int) -> None:
        with self._lock:
            self._round_trip += (seconds - self._round_trip) * (0.2 if self._round_trip else 1.0)
            if changes != self._changes:
                return
            self._window.append(seconds)
            if len(self._window) < self._window_size:
                return
            change = self._close_window()
        if change is not None:
            self._on_change(change)

    def _overloaded(self, reason: Literal["429", "timeout"], decreases: int) -> None:
        with self._lock:
            now = self._clock.monotonic()
            if decreases != self._decreases or now < self._hold_decreases_until:
                return  # the overload the last decrease answered
            lowered = max(self.policy.floor, math.floor(self._target * self.policy.decrease_factor))
            self._decreases += 1
            self._hold_decreases_until = now + self._round_trip
            self._refused_at, self._calm_windows = self._target, 0
            change = self._set(lowered, reason)
            self._open_window()
        if change is not None:
            self._on_change(change)

    def _close_window(self) -> TargetChange | None:
        """Called with the lock held, once a window's answers are in."""
        latency, fastest = statistics.median(self._window), min(self._window)
        bound = self._window_bound
        self._open_window()
        if self._baseline is None or fastest < self._baseline:
            self._baseline = fastest
        else:
            self._baseline += (fastest - self._baseline) * self.policy.baseline_drift
        if latency <= 0:
            return None
        served = self._target * self._baseline / latency
        if self._target - served > self.policy.allowed_queue:
            lowered = min(self._target - 1, math.ceil(served + self.policy.allowed_queue))
            self._calm_windows = 0
            return self._set(max(self.policy.floor, lowered), "latency")
        if not bound:
            return None
        self._calm_windows += 1
        near_refusal = self._refused_at is not None and self._target == self._refused_at - 1
        if near_refusal and self._calm_windows < self.policy.cautious_windows:
            return None
        if self._refused_at is not None and self._target > self._refused_at:
            self._refused_at = None  # past where it refused, unrefused: the service has room again
        self._calm_windows = 0
        return self._set(min(self.policy.ceiling, self._target + 1), "success")

    def _open_window(self) -> None:
        self._window_size = self._target
        self._window = []
        self._window_bound = False

    def _set(self, target: int, reason: Reason) -> TargetChange | None:
        previous = self._target
        if target == previous:
            return None
        self._target = target
        self._changes += 1
        self._open_window()
        if target > previous:
            self._permit_free.notify(target - previous)
        return TargetChange(self.service, self._clock.monotonic(), target, previous, reason)

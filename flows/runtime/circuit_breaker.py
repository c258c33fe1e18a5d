"""One breaker per external service and process: after `failure_threshold` consecutive failures, calls fail
fast for `cooldown_seconds`; then one trial call is let through (half-open) and its outcome closes or reopens
the circuit. Only failures of the service count (5xx, transport errors); a 429 means it is alive."""

import threading
from enum import StrEnum

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime.errors import CircuitOpenError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.service = service
        self._clock = clock
        self._failure_threshold = failure_threshold
        self._cooldown_seconds = cooldown_seconds
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._current_state(self._clock.monotonic())

    def before_call(self) -> None:
        """Raises CircuitOpenError instead of letting a call through while the service is presumed down."""
        now = self._clock.monotonic()
        with self._lock:
            state = self._current_state(now)
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._state = BreakerState.HALF_OPEN
                self._trial_in_flight = True
                return
            retry_in = max(0.0, self._opened_at + self._cooldown_seconds - now)
        raise CircuitOpenError(self.service, retry_in)

    def record_success(self) -> bool:
        """True when this closed the circuit."""
        with self._lock:
            closed = self._state is not BreakerState.CLOSED
            self._state = BreakerState.CLOSED
            self._consecutive_failures = 0
            self._trial_in_flight = False
        return closed

    def record_failure(self) -> bool:
        """True when this opened the circuit (a failure while it is open already only extends it)."""
        with self._lock:
            opened = False
            self._consecutive_failures += 1
            if self._state is BreakerState.HALF_OPEN or self._consecutive_failures >= self._failure_threshold:
                opened = self._state is not BreakerState.OPEN
                self._state = BreakerState.OPEN
                self._opened_at = self._clock.monotonic()
            self._trial_in_flight = False
        return opened

    def release_trial(self) -> None:
        """The call never reached the service (e.g. no slot in time): it says nothing about its health."""
        with self._lock:
            self._trial_in_flight = False

    def _current_state(self, now: float) -> BreakerState:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self._cooldown_seconds:
            return BreakerState.HALF_OPEN
        return self._state

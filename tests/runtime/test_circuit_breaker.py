"""The circuit breaker on a manual clock: cooldown, the single half-open trial, reopening."""

import pytest

from flows.runtime.circuit_breaker import BreakerState, CircuitBreaker
from flows.runtime.errors import CircuitOpenError
from tests.support.manual_clock import ManualClock


def test_opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("erp", failure_threshold=2, cooldown_seconds=30.0, clock=clock)
    assert not breaker.record_failure()
    assert breaker.record_failure()
    with pytest.raises(CircuitOpenError, match=r"30\.0 s"):
        breaker.before_call()
    clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # only one at a time
    assert breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_trial_reopens_for_a_whole_cooldown() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("erp", failure_threshold=1, cooldown_seconds=10.0, clock=clock)
    breaker.record_failure()
    clock.advance(10.0)
    breaker.before_call()
    assert breaker.record_failure()  # reopened: a transition, as the runtime's events count it
    clock.advance(9.0)
    assert breaker.state is BreakerState.OPEN


def test_a_trial_that_never_reached_the_service_frees_the_trial() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("erp", failure_threshold=1, cooldown_seconds=1.0, clock=clock)
    breaker.record_failure()
    clock.advance(1.0)
    breaker.before_call()
    breaker.release_trial()
    breaker.before_call()  # another trial may go

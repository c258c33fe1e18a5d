"""The guarded ERP calls against the real demo ERP and real limits: 429s are retried no sooner than their
Retry-After, and a failing ERP opens the circuit, which fails fast, half-opens after its cool-down and
closes again on a successful trial."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from flows.runtime import CircuitOpenError, ExternalServiceError, FlowRuntime
from flows.runtime.circuit_breaker import BreakerState, CircuitBreaker
from flows.runtime.retry_policy import RetryPolicy
from tests.support.manual_clock import ManualClock
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour

BODY = {"item_id": "X-00001", "amount_cents": 100}
# How long the outside client keeps the ERP busy: the guarded call's first attempt (a runtime opened, a slot
# leased: under a second on a quiet machine) must arrive meanwhile, however loaded the machine.
BUSY_SECONDS = 20
WAIT_BOUND_SECONDS = 120  # a bound on a hang: every wait here takes a second or two on a quiet machine


def test_429s_are_retried_after_their_retry_after(new_stack, demo_erp):
    admin, erp_url = demo_erp
    # The ERP takes one call at a time; an outside client holds it busy long enough that the guarded call's
    # first attempt is answered 429 with Retry-After: 1, whatever the timing of the slot traffic. Once it has
    # been, the ERP takes calls in parallel again, so the retry goes through while the outside call lasts.
    admin.configure(ErpBehaviour(latency_seconds=BUSY_SECONDS, max_concurrency=1, retry_after_seconds=1))
    stack = new_stack(erp_api=2)
    with ThreadPoolExecutor(2) as outside, httpx.Client(base_url=erp_url, timeout=BUSY_SECONDS * 3) as raw:
        busy = outside.submit(raw.post, "/api/reconciliations", json=BODY)
        _wait_until(lambda: admin.stats().accepted == 1)
        admin.configure(ErpBehaviour(latency_seconds=0.05, max_concurrency=1, retry_after_seconds=1))
        lifted = outside.submit(_lift_concurrency_after_a_refusal, admin)
        with FlowRuntime.open(stack.settings(timeout_seconds=120), concurrency=["erp-api"]) as runtime:
            erp = runtime.http_service(
                "erp", erp_url, concurrency="erp-api", retry=RetryPolicy(max_attempts=10)
            )
            answer = erp.request("POST", "/api/reconciliations", json=BODY)
        lifted.result()
        assert busy.result().status_code == 200

    assert answer["status"] in {"matched", "mismatch"}
    stats = admin.stats()
    assert stats.rejected_for_concurrency >= 1
    assert stats.early_retries == 0
    assert stats.accepted == 2


def test_other_client_errors_are_not_retried(new_stack, demo_erp):
    admin, erp_url = demo_erp
    stack = new_stack(erp_api=2)
    with FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as runtime:
        erp = runtime.http_service("erp", erp_url, concurrency="erp-api")
        with pytest.raises(ExternalServiceError) as raised:
            erp.request("POST", "/api/reconciliations", json={"item_id": "no amount"})

    assert raised.value.status_code == 422
    assert admin.stats().arrivals == 1


def test_circuit_opens_fails_fast_half_opens_and_closes(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.0, failure_status=503))
    stack = new_stack(erp_api=2)
    # Its own clock: the cool-down passes when the test says so, not when a busy machine gets round to it.
    clock = ManualClock()
    breaker = CircuitBreaker("erp", failure_threshold=3, cooldown_seconds=1.0, clock=clock)
    with FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as runtime:
        erp = runtime.http_service(
            "erp", erp_url, concurrency="erp-api", breaker=breaker, retry=RetryPolicy(max_attempts=1)
        )

        def call() -> object:
            return erp.request("POST", "/api/reconciliations", json=BODY)

        for _ in range(3):
            with pytest.raises(ExternalServiceError):
                call()
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            call()
        assert admin.stats().arrivals == 3  # failed fast: the fourth call never reached the ERP

        clock.advance(1.0)
        assert breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(ExternalServiceError):
            call()  # the trial call fails: open again, for another cool-down
        assert breaker.state is BreakerState.OPEN
        assert admin.stats().arrivals == 4

        clock.advance(0.5)
        assert breaker.state is BreakerState.OPEN  # half the cool-down
        admin.configure(ErpBehaviour(latency_seconds=0.0))
        clock.advance(0.5)
        assert breaker.state is BreakerState.HALF_OPEN
        assert call()["status"] in {"matched", "mismatch"}
        assert breaker.state is BreakerState.CLOSED


def _lift_concurrency_after_a_refusal(admin: DemoErpAdmin) -> None:
    _wait_until(lambda: admin.stats().rejected_for_concurrency >= 1)
    admin.configure(ErpBehaviour(latency_seconds=0.05, retry_after_seconds=1))


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {WAIT_BOUND_SECONDS} s"
        time.sleep(0.05)

"""Calls to one external HTTP service with all of its guards: a concurrency slot and a rate token per attempt
(within the run's adaptive target for the service, when it has one), a circuit breaker, retries with backoff
that honour Retry-After, and one deadline for the whole call."""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from flows.runtime.adaptive_limit import AdaptiveCall, AdaptiveLimit
from flows.runtime.circuit_breaker import CircuitBreaker
from flows.runtime.deadline import Deadline
from flows.runtime.errors import ExternalServiceError
from flows.runtime.rate_limiter import RateLimiter
from flows.runtime.retry_policy import RetryPolicy, parse_retry_after
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.runtime_events import RuntimeEvents
from flows.runtime.slot_pool import SlotPool


class GuardedHttpService:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        slots: SlotPool,
        rate: RateLimiter | None,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        timeout_seconds: float,
        metrics: RunMetrics,
        events: RuntimeEvents,
        max_connections: int = 64,
        headers: Mapping[str, str] | None = None,
        adaptive: AdaptiveLimit | None = None,
    ) -> None:
        if rate is not None and rate.slots is not slots:
            raise ValueError(f"{name}: its rate limiter must take the slots of its own pool, {slots.name!r}")
        self.name = name
        self._slots = slots
        self._rate = rate
        self._adaptive = adaptive
        self._breaker = breaker
        self._retry = retry
        self._timeout_seconds = timeout_seconds
        self._metrics = metrics
        self._events = events
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.Client(base_url=base_url, limits=limits, headers=headers)

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """The decoded JSON body of a 2xx answer. 429 and 5xx are retried; other 4xx are raised at once."""
        deadline = Deadline.after(self._timeout_seconds)
        # The same key on every attempt lets the service recognise a retry (and deduplicate a repeated POST).
        headers = {"Idempotency-Key": str(uuid4())}
        failures = 0
        while True:
            self._breaker.before_call()
            retry_after: float | None = None
            status: int | None = None
            try:
                response = self._attempt(_Request(method, path, params, json, headers), deadline)
            except httpx.TransportError as error:
                self._failed()
                problem = f"{type(error).__name__}: {error}"
            except BaseException:
                self._breaker.release_trial()
                raise
            else:
                status = response.status_code
                problem = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status >= 500:
                    self._failed()
                else:
                    if self._breaker.record_success():
                        self._metrics.breaker_closed(self.name)
                        self._events.breaker_closed(self.name)
                    if response.is_success:
                        return response.json()
                    if status != 429:
                        raise ExternalServiceError(
                            self.name, f"{method} {path}: {problem} {response.text[:200]}", status
                        )
                    self._metrics.throttled(self.name)
            failures += 1
            delay = self._retry.delay(failures, retry_after)
            if failures >= self._retry.max_attempts or delay >= deadline.remaining():
                raise ExternalServiceError(
                    self.name, f"{method} {path}: gave up after {failures} attempts ({problem})", status
                )
            self._metrics.call_retried()
            if retry_after is not None:
                self._metrics.retry_after_waited(self.name, delay)
            time.sleep(delay)  # holding no slot: waiting does not block other tasks

    def _failed(self) -> None:
        if self._breaker.record_failure():
            self._metrics.breaker_opened(self.name)
            self._events.breaker_opened(self.name)

    def _attempt(self, request: "_Request", deadline: Deadline) -> httpx.Response:
        if self._adaptive is None:
            return self._guarded_attempt(request, deadline, None)
        # The run's own target first: a call it holds back must not sit on a slot of the global limit that
        # another flow run could use.
        with self._adaptive.permit(deadline) as call:
            return self._guarded_attempt(request, deadline, call)

    def _guarded_attempt(
        self, request: "_Request", deadline: Deadline, call: AdaptiveCall | None
    ) -> httpx.Response:
        # With a rate, a task waits for its token holding no slot (a queue for the rate keeps no slot from
        # anyone); the token comes with a slot of this service's pool, taken for it when the token was.
        guard = self._slots.slot(deadline) if self._rate is None else self._rate.wait_for_token(deadline)
        with guard:
            timeout = max(0.001, deadline.remaining())
            sent_at = time.perf_counter()
            try:
                response = self._http.request(
                    request.method,
                    request.path,
                    params=request.params,
                    json=request.json,
                    headers=request.headers,
                    timeout=timeout,
                )
            except httpx.TimeoutException:
                if call is not None:
                    call.overloaded("timeout")
                raise
            finally:
                seconds = time.perf_counter() - sent_at
                self._metrics.attempt(self.name, seconds)
        if call is not None:
            if response.status_code == 429:
                call.overloaded("429")
            else:
                call.answered(seconds)
        return response

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class _Request:
    """One call, the same on every attempt."""

    method: str
    path: str
    params: dict[str, Any] | None
    json: Any
    headers: dict[str, str]

"""Everything one flow run's tasks share: one limits API client, the run's metrics and events, one slot pool
per concurrency limit, one rate limiter per rate limit, one breaker per external service, and an adaptive
limit per service whose concurrency limit the stack made adaptive. The flow opens it;
closing it gives back every lease. Limits are named from the run's stack and must exist: a missing one is an
error, never unlimited."""

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Self

from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.context import FlowRunContext

from flows.runtime.adaptive_limit import AdaptiveLimit, AdaptivePolicy, TargetChange
from flows.runtime.circuit_breaker import CircuitBreaker
from flows.runtime.errors import InvalidVariableError, NotARateLimitError
from flows.runtime.guarded_http import GuardedHttpService
from flows.runtime.limits_api import LimitsApi
from flows.runtime.rate_limiter import RateLimiter, RatePolicy
from flows.runtime.retry_policy import RetryPolicy
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.run_observation import run_observation
from flows.runtime.run_settings import RunSettings
from flows.runtime.slot_pool import SlotPolicy, SlotPool
from rpa_naming import adaptive_floor_variable_name, concurrency_limit_name

DEFAULT_SLOT_POLICY = SlotPolicy()


class FlowRuntime:
    def __init__(self, settings: RunSettings, api: LimitsApi, exits: ExitStack) -> None:
        self.settings = settings
        self.api = api
        self._exits = exits
        # Entered before any pool or limiter, so closed after them: their last events go out with its own.
        self._observation = exits.enter_context(run_observation())
        self._pools: dict[str, SlotPool] = {}
        self._limit_sizes: dict[str, int] = {}  # per concurrency resource, as read when the run opened
        # Per rate resource and the pool whose slots its tokens come with (None: tokens alone).
        self._rates: dict[tuple[str, str | None], RateLimiter] = {}
        self._rate_resources: set[str] = set()

    @classmethod
    @contextmanager
    def open(
        cls,
        settings: RunSettings,
        *,
        concurrency: Iterable[str],
        rates: Iterable[str] = (),
        slot_policy: SlotPolicy = DEFAULT_SLOT_POLICY,
    ) -> Iterator[Self]:
        """`concurrency` and `rates` are resources (`erp-api`); the limits are `<stack>-<resource>`. Every
        slot pool follows `slot_policy`."""
        with ExitStack() as exits:
            api = exits.enter_context(LimitsApi(_flow_run_holder()))  # closed last: pools release through it
            runtime = cls(settings, api, exits)
            for resource in concurrency:
                runtime._add_pool(resource, slot_policy)
            for resource in rates:
                runtime._check_rate(resource)
            yield runtime

    @property
    def metrics(self) -> RunMetrics:
        return self._observation.metrics

    def limit_name(self, resource: str) -> str:
        return concurrency_limit_name(self.settings.stack, resource)

    def slots(self, resource: str) -> SlotPool:
        return self._pools[resource]

    def rate(self, resource: str, concurrency: str | None = None) -> RateLimiter:
        """The run's limiter of a rate resource; with `concurrency`, each token comes with a slot of that
        pool."""
        if resource not in self._rate_resources:
            raise KeyError(resource)
        key = (resource, concurrency)
        if key not in self._rates:
            slots = None if concurrency is None else self.slots(concurrency)
            limiter = RateLimiter(
                self.limit_name(resource), self.api, RatePolicy(), slots, metrics=self.metrics
            )
            self._exits.callback(limiter.close)  # before its pool closes: its slots go back first
            self._rates[key] = limiter
        return self._rates[key]

    def http_service(
        self,
        name: str,
        base_url: str,
        *,
        concurrency: str,
        rate: str | None = None,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GuardedHttpService:
        service = GuardedHttpService(
            name,
            base_url,
            slots=self.slots(concurrency),
            rate=None if rate is None else self.rate(rate, concurrency),
            breaker=breaker or CircuitBreaker(name),
            retry=retry or RetryPolicy(),
            timeout_seconds=self.settings.timeout_seconds,
            metrics=self.metrics,
            events=self._observation.events,
            max_connections=max(16, self.settings.max_concurrent_tasks),
            headers=headers,
            adaptive=self._adaptive_limit(name, concurrency),
        )
        self._exits.callback(service.close)
        if rate is None:  # paced calls take their slots with their tokens, as many as the rate lets through
            # Its calls are about to start: their first slots are best asked for before the flow submits them.
            self.slots(concurrency).warm(self.settings.max_concurrent_tasks, wait=True)
        return service

    def _adaptive_limit(self, service: str, resource: str) -> AdaptiveLimit | None:
        """The run's adaptive limit of `service`, when the stack made `resource` adaptive: from its floor up
        to the global limit (or the run's width, which no more calls can exceed)."""
        floor = self.settings.adaptive_floors.get(resource)
        if floor is None:
            return None
        ceiling = max(1, min(self._limit_sizes[resource], self.settings.max_concurrent_tasks))
        if floor > ceiling:
            variable = adaptive_floor_variable_name(self.settings.environment, resource)
            usable = f"what {self.limit_name(resource)} and the width let this run use ({ceiling})"
            raise InvalidVariableError(variable, f"floor {floor} is above {usable}")
        policy = AdaptivePolicy(floor=floor, ceiling=ceiling)
        limit = AdaptiveLimit(service, policy, on_change=self._target_changed)
        self.metrics.adaptive_target(service, time.monotonic(), limit.target, "start")
        return limit

    def _target_changed(self, change: TargetChange) -> None:
        self.metrics.adaptive_target(change.service, change.at, change.target, change.reason)

    def _add_pool(self, resource: str, policy: SlotPolicy) -> None:
        name = self.limit_name(resource)
        # MissingConcurrencyLimitError before any work starts
        self._limit_sizes[resource] = self.api.read(name).limit
        pool = SlotPool(name, self.api, policy, metrics=self.metrics, events=self._observation.events)
        self._exits.callback(pool.close)
        self._pools[resource] = pool

    def _check_rate(self, resource: str) -> None:
        name = self.limit_name(resource)
        if self.api.read(name).slot_decay_per_second <= 0:  # MissingConcurrencyLimitError, or not a rate
            raise NotARateLimitError(name)
        self._rate_resources.add(resource)


def _flow_run_holder() -> ConcurrencyLeaseHolder | None:
    """Leases name the flow run holding them, so the UI can tell who holds a limit."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return ConcurrencyLeaseHolder(type="flow_run", id=context.flow_run.id)

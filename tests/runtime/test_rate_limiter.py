"""RateLimiter on a manual clock over the in-memory limits API (Prefect's decay arithmetic): the calls it lets
start never trip a token bucket of the same shape (what the service enforces), whether writes land late, the
server is busy, or the client's wall clock is off the server's; and little of the rate is lost to rounding."""

import random
import threading
from collections.abc import Iterator

import pytest

from flows.clock import Clock
from flows.runtime.errors import MissingConcurrencyLimitError, NotARateLimitError
from flows.runtime.rate_limiter import RateLimiter, RatePolicy
from flows.runtime.run_metrics import RunMetrics
from tests.runtime.runtime_harness import SlowLimitsApi, TokenTask, with_manager
from tests.support.manual_clock import ManualClock
from tools.demo_erp.meters import TokenBucket

LIMIT, RATE = 10, 10.0
SECONDS = 20.0


@pytest.fixture(autouse=True)
def same_jitter_every_run() -> None:
    random.seed(11)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> SlowLimitsApi:
    api = SlowLimitsApi(clock)
    api.create_limit("erp-api-rate", LIMIT, slot_decay_per_second=RATE)
    return api


@pytest.fixture
def limiters(clock: ManualClock, api: SlowLimitsApi) -> Iterator[dict[RateLimiter, threading.Thread]]:
    """Rate limiters, each with its manager thread; closed after the test, woken from any wait first."""
    opened: dict[RateLimiter, threading.Thread] = {}
    yield opened
    api.write_latency = 0.0
    clock.advance(60.0)
    for limiter in opened:
        limiter.close()


def new_limiter(
    opened: dict[RateLimiter, threading.Thread], name: str, api: SlowLimitsApi, clock: Clock
) -> RateLimiter:
    limiter, manager = with_manager(
        lambda: RateLimiter(name, api, RatePolicy(), metrics=RunMetrics(), clock=clock)
    )
    opened[limiter] = manager
    return limiter


def run_calls(
    limiters: dict[RateLimiter, threading.Thread],
    limiter: RateLimiter,
    clock: ManualClock,
    tasks: int,
    seconds: float,
) -> list[float]:
    """Start times of the calls `tasks` tasks made through `limiter` in `seconds`, in order."""
    callers = [TokenTask(limiter, clock) for _ in range(tasks)]
    for caller in callers:
        caller.start()
    threads = [*limiters.values(), *callers]
    clock.run_for(seconds, threads)
    for caller in callers:
        caller.stop()
    assert [c.error for c in callers] == [None] * tasks
    return sorted(t for caller in callers for t in caller.calls)


def never_trips_the_bucket(calls: list[float]) -> bool:
    bucket = TokenBucket(RATE, LIMIT)
    return all(bucket.try_take(at) for at in calls)


@pytest.mark.parametrize("write_latency", [0.0, 0.013, 0.25])
def test_calls_never_exceed_the_bucket_when_writes_land_late(
    clock: ManualClock, api: SlowLimitsApi, limiters, write_latency: float
) -> None:
    api.write_latency = write_latency
    limiter = new_limiter(limiters, "erp-api-rate", api, clock)
    calls = run_calls(limiters, limiter, clock, tasks=4, seconds=SECONDS)
    assert never_trips_the_bucket(calls)
    # The headroom (0.15 s of the rate) and the rounding cost a little; the decay lost at each write is
    # what would cost more: tokens taken to land just after a whole slot drained lose almost nothing.
    assert len(calls) >= 0.8 * (LIMIT + RATE * SECONDS), len(calls)


def test_a_busy_server_delays_tokens_without_bunching_them(
    clock: ManualClock, api: SlowLimitsApi, limiters
) -> None:
    api.busy_answers = 5
    limiter = new_limiter(limiters, "erp-api-rate", api, clock)
    calls = run_calls(limiters, limiter, clock, tasks=3, seconds=5.0)
    assert api.busy_answers == 0 and never_trips_the_bucket(calls)


@pytest.mark.parametrize("skew_seconds", [-2.0, -0.3, 0.3, 2.0])
def test_a_client_clock_off_the_servers_still_gets_tokens_within_the_bucket(
    clock: ManualClock, api: SlowLimitsApi, limiters, skew_seconds: float
) -> None:
    client_clock = clock.skewed(skew_seconds)
    limiter = new_limiter(limiters, "erp-api-rate", api, client_clock)
    calls = run_calls(limiters, limiter, clock, tasks=3, seconds=SECONDS)
    assert never_trips_the_bucket(calls)
    assert len(calls) >= 0.5 * (LIMIT + RATE * SECONDS), len(calls)


def test_a_limit_deleted_or_stripped_of_its_decay_fails_the_waiting_tasks(
    clock: ManualClock, api: SlowLimitsApi, limiters
) -> None:
    api.create_limit("db-rate", 1, slot_decay_per_second=0.1)
    gone = new_limiter(limiters, "db-rate", api, clock)
    not_a_rate = new_limiter(limiters, "erp-api-rate", api, clock)
    first = run_calls(limiters, gone, clock, tasks=1, seconds=1.0)
    assert len(first) == 1  # the bucket's one slot, then 10 s until the next
    api.delete_limit("db-rate")
    api.update_limit("erp-api-rate", slot_decay_per_second=0.0)
    waiters = [TokenTask(gone, clock), TokenTask(not_a_rate, clock)]
    for waiter in waiters:
        waiter.start()
    # The one waiting for a token of the deleted limit finds out at its next read, after the write it was
    # waiting to make (granted: the server grants what names no limit).
    clock.run_for(11.0, [*limiters.values(), *waiters])
    assert isinstance(waiters[0].error, MissingConcurrencyLimitError)
    assert isinstance(waiters[1].error, NotARateLimitError)

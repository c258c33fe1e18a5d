"""This process's use of one Prefect rate limit (a global limit with `slot_decay_per_second` > 0).

The server's bucket holds `limit` slots that drain at `slot_decay_per_second`; every call must first occupy a
slot, so over any T seconds at most limit + rate * T calls start, across all flow runs of the stack. Asking
per call is what makes Prefect's own `rate_limit` slow; and the server's arithmetic punishes asking often:
each write keeps only whole decayed slots (`floor`) and resets the decay clock, and a denied request resets
that clock without applying the decay at all. So a manager thread takes tokens for the waiting tasks in
blocks, reads the limit first (reads change nothing), and times its write to land just after a whole slot has
drained, which loses almost nothing to the rounding and is rarely denied.

Tokens are spent at once or thrown away: a token used late could bunch calls beyond the bucket. A little of
the bucket is left unused as headroom for the jitter between the server's clock and the call's arrival.
"""

import logging
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from flows.runtime.deadline import Deadline
from flows.runtime.errors import SlotWaitTimeout
from flows.runtime.limits_api import LimitsApi, LimitState, without_client_retries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RatePolicy:
    block_seconds: float = 0.25  # take up to this many seconds' worth of tokens per server write
    headroom_seconds: float = 0.05  # leave this much of the rate unused in the bucket
    write_margin_seconds: tuple[float, float] = (0.002, 0.008)  # land this long after a slot drained
    retry_seconds: float = 0.05


class RateLimiter:
    def __init__(self, name: str, api: LimitsApi, policy: RatePolicy) -> None:
        self.name = name
        self._api = api
        self._policy = policy
        self._lock = threading.Lock()
        self._token_ready = threading.Condition(self._lock)
        self._manager_wakeup = threading.Condition(self._lock)
        self._grants: deque[float] = deque()  # monotonic time each unspent token was granted
        self._max_token_age = policy.headroom_seconds / 2
        self._waiting = 0
        self._closing = False
        self._manager = threading.Thread(target=self._manage, name=f"rate:{name}", daemon=True)
        self._manager.start()

    def wait_for_token(self, deadline: Deadline) -> None:
        with self._lock:
            self._waiting += 1
            self._manager_wakeup.notify()
            try:
                while True:
                    self._drop_stale_tokens(time.monotonic())
                    if self._grants:
                        self._grants.popleft()
                        return
                    if self._closing:
                        raise RuntimeError(f"rate limiter {self.name!r} is closed")
                    if deadline.expired():
                        raise SlotWaitTimeout(self.name, deadline.seconds)
                    self._token_ready.wait(deadline.remaining())
            finally:
                self._waiting -= 1

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._manager_wakeup.notify()
            self._token_ready.notify_all()
        self._manager.join(5)

    def _drop_stale_tokens(self, now: float) -> None:
        while self._grants and now - self._grants[0] > self._max_token_age:
            self._grants.popleft()

    def _unserved(self) -> int:
        self._drop_stale_tokens(time.monotonic())
        return self._waiting - len(self._grants)

    def _manage(self) -> None:
        with without_client_retries():
            while True:
                with self._lock:
                    while not self._closing and self._unserved() <= 0:
                        self._manager_wakeup.wait()
                    if self._closing:
                        return
                    wanted = self._unserved()
                try:
                    self._serve(wanted)
                except Exception:
                    logger.warning("rate limiter %s: Prefect API call failed", self.name, exc_info=True)
                    self._sleep(self._policy.retry_seconds)

    def _serve(self, wanted: int) -> None:
        state = self._api.read(self.name)
        received_at = datetime.now(UTC)
        decay = state.slot_decay_per_second
        headroom = math.ceil(decay * self._policy.headroom_seconds) if state.limit > 1 else 0
        capacity = max(1, state.limit - headroom)
        block = max(1, round(decay * self._policy.block_seconds))
        count = min(wanted, block, capacity)
        self._sleep(_seconds_until_room(state, count, capacity, received_at) + random.uniform(
            *self._policy.write_margin_seconds
        ))
        if self._closing:
            return
        if self._api.take_rate_tokens(self.name, count):
            with self._lock:
                now = time.monotonic()
                self._grants.extend([now] * count)
                self._token_ready.notify(count)

    def _sleep(self, seconds: float) -> None:
        wake_at = time.monotonic() + seconds
        with self._lock:
            while not self._closing and (remaining := wake_at - time.monotonic()) > 0:
                self._manager_wakeup.wait(remaining)


def _seconds_until_room(state: LimitState, count: int, capacity: int, now: datetime) -> float:
    """How long until `count` more slots fit under `capacity`, by the server's own decay arithmetic:
    occupied = stored - floor(decay * seconds since `updated`)."""
    if not state.active or state.active_slots + count <= capacity:
        return 0.0
    decay = state.slot_decay_per_second
    elapsed = max(0.0, (now - state.updated).total_seconds()) if state.updated else 0.0
    stored = state.active_slots + math.floor(decay * elapsed)
    must_drain = stored + count - capacity
    return max(0.0, must_drain / decay - elapsed)

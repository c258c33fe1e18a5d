"""This process's use of one Prefect rate limit (a global limit with `slot_decay_per_second` > 0).

The server's bucket holds `limit` slots that drain at `slot_decay_per_second`; every call must first occupy a
slot, so over any T seconds at most limit + rate * T calls start, across all flow runs of the stack. Asking
per call is what makes Prefect's own `rate_limit` slow, and the server's arithmetic punishes asking at random
times: each write keeps only whole drained slots (`floor(rate * seconds since updated)`) and restarts the
clock, losing half a slot on average. So a manager thread takes tokens for the waiting tasks in blocks, reads
the limit first (reads change nothing), and times each write, and each retry of a write the server was too
busy for, to land just after a whole slot has drained: almost nothing is lost to the rounding.

A limit deleted, or changed into one without slot decay, under a running flow fails the waiting tasks with
that error instead of leaving them to time out.

A little of the bucket is left unused as headroom: a call may reach the service up to that much later than
the server granted its token, and the calls still fit the service's own bucket of the same size. So a token
is spent within the headroom, less a margin for sending the call, from the server's answer, or thrown away
and asked for again (`dropped`: the server counted it all the same). On a busy interpreter a woken task
waits for the GIL (up to 5 ms per CPU-bound thread): a tighter age threw away half the tokens there.

Calls limited by a rate are usually limited by a concurrency limit too. Their tasks wait for the rate holding
no slot, so that a queue for the rate keeps no slot from the other flow runs; given the pool of that limit,
the manager takes a slot of it for each token right before taking the token (never more tokens than it got
slots: a token waiting for a slot would go stale), and hands the two out together.
"""

import logging
import math
import random
import threading
from array import array
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime.deadline import Deadline
from flows.runtime.errors import NotARateLimitError, RuntimeConfigurationError, SlotWaitTimeout
from flows.runtime.limits_api import Limits, LimitState, ServerBusy
from flows.runtime.run_metrics import RunMetrics, Samples
from flows.runtime.slot_pool import SlotPool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RatePolicy:
    # Tokens per server write: this many seconds' worth, at most half the bucket (the other half absorbs the
    # server's delays). Each write loses up to one slot to the server's rounding, so bigger is more exact.
    block_seconds: float = 0.5
    # Leave this much of the rate unused in the bucket: a call may reach the service this much later than the
    # server granted its token (response, thread wake-up, sending) without bunching beyond the bucket there.
    # With 50 ms, the demo ERP's identical bucket once refused a call (three flow runs sharing two cores).
    headroom_seconds: float = 0.15
    send_margin_seconds: float = 0.05  # of the headroom, for the call to go out once its task has the token
    idle_check_seconds: float = 0.5  # a manager with nobody to serve looks again this often, woken or not
    write_margin_seconds: tuple[float, float] = (0.002, 0.008)  # land this long after a slot drained
    retry_seconds: float = 0.05
    slot_wait_seconds: float = 2.0  # how long the manager waits for slots before it looks at the limit again


@dataclass(frozen=True)
class _Grant:
    granted_at: float  # the limiter's clock.monotonic()
    slot: AbstractContextManager[None]  # the slot the call is made in (a no-op without a slot pool)


class RateLimiter:
    def __init__(
        self,
        name: str,
        api: Limits,
        policy: RatePolicy,
        slots: SlotPool | None = None,
        *,
        metrics: RunMetrics,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`clock`: the one the tasks' deadlines and the slot pool are on."""
        self.name = name
        self._clock = clock
        self._api = api
        self._policy = policy
        self._slots = slots
        self._lock = threading.Lock()
        self._waits = array("d")  # seconds each task waited for its token, appended under `_lock`
        metrics.slot_waits_of(name, self._copy_waits)
        self._token_ready = clock.condition(self._lock)
        self._manager_wakeup = clock.condition(self._lock)
        self._grants: deque[_Grant] = deque()  # unspent tokens, oldest first
        self.granted = 0  # tokens the server granted this limiter
        self.dropped = 0  # of them, thrown away unspent
        self._waiting = 0
        self._short_of_slots = False  # the manager's last request for slots got fewer than it asked for
        self._closing = False
        self._failure: RuntimeConfigurationError | None = None
        self._manager = threading.Thread(target=self._manage, name=f"rate:{name}", daemon=True)
        self._manager.start()

    @property
    def slots(self) -> SlotPool | None:
        """The pool each token comes with a slot of: the calls this limiter paces are guarded by it too."""
        return self._slots

    def wait_for_token(self, deadline: Deadline) -> AbstractContextManager[None]:
        """Wait for a token, holding no slot. With a slot pool, the token comes with a slot of it, taken when
        the token was: make the call at once, inside the returned context, which gives the slot back."""
        waiting_since: float | None = None  # None while no wait: a token at hand counts as no wait at all
        with self._lock:
            self._waiting += 1
            self._manager_wakeup.notify()
            try:
                while not deadline.expired():
                    if self._drop_stale_tokens(self._clock.monotonic()):
                        self._manager_wakeup.notify()  # this task woke too late for it: ask for another
                    if self._grants:
                        self._waits.append(
                            0.0 if waiting_since is None else self._clock.monotonic() - waiting_since
                        )
                        return self._grants.popleft().slot
                    if self._failure is not None:
                        raise self._failure
                    if self._closing:
                        raise RuntimeError(f"rate limiter {self.name!r} is closed")
                    if waiting_since is None:
                        waiting_since = self._clock.monotonic()
                    self._token_ready.wait(deadline.remaining())
                short_of_slots = self._slots is not None and self._short_of_slots
                self._waits.append(0.0 if waiting_since is None else self._clock.monotonic() - waiting_since)
            finally:
                self._waiting -= 1
        if self._slots is not None and short_of_slots:  # the slots held it back, not the rate
            raise SlotWaitTimeout(self._slots.name, deadline.seconds, self._slots.why_no_slot(deadline))
        raise SlotWaitTimeout(self.name, deadline.seconds)

    def _copy_waits(self) -> Samples:
        with self._lock:
            return array("d", self._waits)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._manager_wakeup.notify()
            self._token_ready.notify_all()
        self._manager.join(5)
        with self._lock:
            _give_back([grant.slot for grant in self._grants])
            self._grants.clear()

    def _drop_stale_tokens(self, now: float) -> int:
        max_age = self._policy.headroom_seconds - self._policy.send_margin_seconds
        dropped = 0
        while self._grants and now - self._grants[0].granted_at > max_age:
            _give_back([self._grants.popleft().slot])
            dropped += 1
        self.dropped += dropped
        return dropped

    def _unserved(self) -> int:
        self._drop_stale_tokens(self._clock.monotonic())
        return self._waiting - len(self._grants)

    def _manage(self) -> None:
        while True:
            with self._lock:
                while not self._closing and self._unserved() <= 0:
                    self._manager_wakeup.wait(self._policy.idle_check_seconds)
                if self._closing:
                    return
                wanted = self._unserved()
            try:
                self._serve(wanted)
            except RuntimeConfigurationError as error:
                logger.error("rate limiter %s: %s", self.name, error)
                with self._lock:
                    self._failure = error
                    self._closing = True
                    self._token_ready.notify_all()
                return
            except Exception as error:
                logger.warning("rate limiter %s: Prefect API call failed: %s", self.name, error)
                self._sleep(self._policy.retry_seconds)

    def _serve(self, wanted: int) -> None:
        state = self._api.read(self.name)
        decay = state.slot_decay_per_second
        if decay <= 0:
            raise NotARateLimitError(self.name)
        headroom = math.ceil(decay * self._policy.headroom_seconds) if state.limit > 1 else 0
        capacity = max(1, state.limit - headroom)
        block = max(1, min(capacity // 2, round(decay * self._policy.block_seconds)))
        now = read_at = self._clock.now()
        if _room_at(state, wanted, capacity, now) <= now:
            write_at = now  # the rate is not what holds these tasks back
        else:
            # It is: wait for a whole block's room, however few wait now. Others arrive meanwhile, and every
            # write costs up to a slot in rounding, so fewer, bigger writes keep the rate exact.
            write_at = _room_at(state, block, capacity, now)
        while not self._closing:
            self._sleep_until(write_at)
            # After a busy server made this write late, the bucket holds more room: take it while it lasts.
            room = capacity - _occupied(state, read_at, self._clock.now())
            with self._lock:
                count = min(max(block, room), self._unserved())
            if count <= 0:
                return
            # Tokens only for calls that have a slot: one without would go stale, wasted, waiting for it.
            slots = self._slots_for(count)
            if not slots:
                return  # the slots, not the rate, hold these calls back: read again later
            try:
                taken = self._api.take_rate_tokens(self.name, len(slots))
            except ServerBusy:
                _give_back(slots)
                write_at = _next_whole_slot(state, self._clock.now())  # it wrote nothing: try again then
                continue
            except BaseException:
                _give_back(slots)
                raise
            if not taken:
                _give_back(slots)
                return  # someone else took the room: read again
            with self._lock:
                granted_at = self._clock.monotonic()
                self.granted += len(slots)
                self._grants.extend(_Grant(granted_at, slot) for slot in slots)
                self._token_ready.notify(len(slots))
            return

    def _slots_for(self, count: int) -> list[AbstractContextManager[None]]:
        if self._slots is None:
            return [nullcontext() for _ in range(count)]
        slots = self._slots.take_up_to(count, self._clock.monotonic() + self._policy.slot_wait_seconds)
        with self._lock:
            self._short_of_slots = len(slots) < count
        return slots

    def _sleep_until(self, when: datetime) -> None:
        margin = random.uniform(*self._policy.write_margin_seconds)
        self._sleep((when - self._clock.now()).total_seconds() + margin)

    def _sleep(self, seconds: float) -> None:
        wake_at = self._clock.monotonic() + seconds
        with self._lock:
            while not self._closing and (remaining := wake_at - self._clock.monotonic()) > 0:
                self._manager_wakeup.wait(remaining)


def _give_back(slots: list[AbstractContextManager[None]]) -> None:
    for slot in slots:
        with slot:
            pass


def _occupied(state: LimitState, read_at: datetime, at: datetime) -> int:
    """Slots the server will count as occupied at `at`, by its own decay arithmetic (stored - floor(decay *
    seconds since `updated`)), assuming nobody else writes after the read at `read_at`."""
    if not state.active or state.updated is None:
        return 0
    decay = state.slot_decay_per_second
    stored = state.active_slots + math.floor(decay * (read_at - state.updated).total_seconds())
    return max(0, stored - math.floor(decay * (at - state.updated).total_seconds()))


def _room_at(state: LimitState, count: int, capacity: int, now: datetime) -> datetime:
    """When `count` more slots fit under `capacity` (see `_occupied`), assuming nobody else writes."""
    if not state.active or state.updated is None or state.active_slots + count <= capacity:
        return now
    decay = state.slot_decay_per_second
    stored = state.active_slots + math.floor(decay * (now - state.updated).total_seconds())
    return max(now, state.updated + timedelta(seconds=(stored + count - capacity) / decay))


def _next_whole_slot(state: LimitState, now: datetime) -> datetime:
    """The next moment after `now` at which the server counts one more drained slot."""
    if state.updated is None:
        return now
    decay = state.slot_decay_per_second
    drained = math.floor(decay * (now - state.updated).total_seconds())
    return state.updated + timedelta(seconds=(drained + 1) / decay)

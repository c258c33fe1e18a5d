"""This process's use of one Prefect rate limit (a global limit with `slot_decay_per_second` > 0).

The design, and the reasons for it: docs/runtime.md#ratelimiter."""

import logging
import math
import random
import re
import threading
from array import array
from collections import deque
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from prefect.context import FlowRunContext
from prefect.logging import get_run_logger

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime.deadline import Deadline
from flows.runtime.errors import NotARateLimitError, RuntimeConfigurationError, SlotWaitTimeout
from flows.runtime.limits_api import Limits, LimitState, ServerBusy
from flows.runtime.run_metrics import RunMetrics, Samples
from flows.runtime.slot_pool import SlotPool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RatePolicy:
    # A write waiting for room waits for this many seconds' worth, at most half the bucket (the other half
    # absorbs the server's delays): others arrive meanwhile, and fewer, bigger writes lose less to rounding.
    block_seconds: float = 0.5
    # Leave this much of the rate unused in the bucket, at most half of it: a token may be spent this much
    # later than the server granted it (its answer, a wait for a slot, the thread's wake-up, sending)
    # without the calls bunching beyond the service's bucket. It is also a token's life, which sets how big
    # a write can be: at 0.15 s, writes carried a few tokens each (above).
    headroom_seconds: float = 0.5
    send_margin_seconds: float = 0.05  # of the headroom, for the call to go out once its task has the token
    # A bucket of one slot keeps none back: its tokens live this long, for a woken task to take them.
    shortest_token_seconds: float = 0.05
    idle_check_seconds: float = 0.5  # a manager with nobody to serve looks again this often, woken or not
    write_margin_seconds: tuple[float, float] = (0.002, 0.008)  # land this long after a slot drained
    retry_seconds: float = 0.05
    slot_wait_seconds: float = 2.0  # how long the manager waits for a first slot before it reads again
    recent_calls: int = 20  # the calls whose longest says when a slot in a call is back
    queue_after_seconds: float = 5.0  # a task waiting this long gets the next token before any newcomer


@dataclass(frozen=True)
class TokenCounts:
    """What one limiter did with its rate limit: tokens the server granted it, of them spent by calls and
    thrown away stale (granted - spent - dropped were on hand at the end), and its writes: granted, refused
    (someone else took the room) and not written (the server was too busy)."""

    limit: str
    granted: int
    spent: int
    dropped: int
    writes: int
    refused_writes: int
    busy_writes: int

    _LINE = re.compile(
        r"rate limiter (?P<limit>\S+): (?P<granted>\d+) tokens granted, (?P<spent>\d+) spent, "
        r"(?P<dropped>\d+) dropped; (?P<writes>\d+) writes, (?P<refused_writes>\d+) refused, "
        r"(?P<busy_writes>\d+) not written"
    )

    def line(self) -> str:
        return (
            f"rate limiter {self.limit}: {self.granted} tokens granted, {self.spent} spent, {self.dropped} "
            f"dropped; {self.writes} writes, {self.refused_writes} refused, {self.busy_writes} not written "
            "(the server was busy)"
        )

    @classmethod
    def from_line(cls, line: str) -> Self | None:
        """The counts a run logged (`line()`), None when `line` is not such a line."""
        found = cls._LINE.search(line)
        if found is None:
            return None
        numbers = {key: int(value) for key, value in found.groupdict().items() if key != "limit"}
        return cls(limit=found["limit"], **numbers)


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
        # Tasks waiting for a token, in the order they came: tokens go to the first of them, so that a task
        # back from its call for the next item cannot take the token a task woken for it was about to take
        # (with one slot, the same task took every token and the others timed out), once the first has
        # waited `queue_after_seconds`; before, whoever runs first takes it, which on a busy interpreter
        # wastes fewer tokens than waiting for the one woken. As many are woken as there are tokens to take.
        self._line: deque[_Waiter] = deque()
        self._manager_wakeup = clock.condition(self._lock)
        self._tokens: deque[float] = deque()  # unspent tokens: when each was granted, oldest first
        self._token_seconds = policy.headroom_seconds - policy.send_margin_seconds  # set at each read
        self._free: list[AbstractContextManager[None]] = []  # slots taken for tokens, in no call yet
        self._calls: dict[int, float] = {}  # this limiter's calls under way: when each started
        self._call_seconds: deque[float] = deque(maxlen=policy.recent_calls)
        # On a busy interpreter a thread waits for the GIL at every step: a task woken for a token runs on
        # only some time later, and a task back from its call asks for its next token some time after the
        # call ended. A slot serves its next token only that much later, and tokens written for it meanwhile
        # went stale (8 CPU-bound threads beside the tasks: writes of 5 tokens for a slot thrown away whole).
        self._wake_seconds: deque[float] = deque(maxlen=policy.recent_calls)  # woken to running
        self._return_seconds: deque[float] = deque(maxlen=policy.recent_calls)  # call ended to next wait
        self._ended = threading.local()  # when this thread's last call ended: `at`
        self._write_seconds: deque[float] = deque(maxlen=policy.recent_calls)  # sent to answered
        self._refill_seconds: deque[float] = deque(maxlen=policy.recent_calls)  # read to tokens granted
        self._next_call = 0
        self.granted = 0  # tokens the server granted this limiter
        self.spent = 0  # of them, taken by a task for its call
        self.dropped = 0  # of them, thrown away unspent
        self.writes = 0
        self.refused_writes = 0
        self.busy_writes = 0
        self._waiting = 0
        self._short_of_slots = False  # the manager's last request for slots got fewer than it asked for
        self._slots_wanted = 0  # by the manager, beyond those free: a waiting task asks the pool for them
        self._asking = False
        self._closing = False
        self._failure: RuntimeConfigurationError | None = None
        self._manager = threading.Thread(target=self._manage, name=f"rate:{name}", daemon=True)
        self._manager.start()

    @property
    def slots(self) -> SlotPool | None:
        """The pool each token comes with a slot of: the calls this limiter paces are guarded by it too."""
        return self._slots

    def wait_for_token(self, deadline: Deadline) -> AbstractContextManager[None]:
        """Wait for a token, holding no slot. With a slot pool, the token comes with a slot of it: make the
        call at once, inside the returned context, which gives the slot back."""
        waiting_since: float | None = None  # None while no wait: a token at hand counts as no wait at all
        me = _Waiter(self._clock.condition(self._lock), self._clock.monotonic())
        with self._lock:
            if (ended := getattr(self._ended, "at", None)) is not None:
                self._return_seconds.append(me.since - ended)
                self._ended.at = None
            self._waiting += 1
            self._line.append(me)
            self._manager_wakeup.notify()
            try:
                while not deadline.expired():
                    if me.woken_at is not None:  # it runs now
                        self._wake_seconds.append(self._clock.monotonic() - me.woken_at)
                        me.woken_at = None
                    if self._drop_stale_tokens(self._clock.monotonic()):
                        self._manager_wakeup.notify()  # this task woke too late for it: ask for another
                    if self._may_take(me):
                        self._waits.append(
                            0.0 if waiting_since is None else self._clock.monotonic() - waiting_since
                        )
                        self._tokens.popleft()
                        self.spent += 1
                        self._line.remove(me)
                        return self._start_call(self._free.pop() if self._free else nullcontext())
                    if self._failure is not None:
                        raise self._failure
                    if self._closing:
                        raise RuntimeError(f"rate limiter {self.name!r} is closed")
                    if waiting_since is None:
                        waiting_since = self._clock.monotonic()
                    if self._slots is not None and self._slots_wanted > 0 and not self._asking:
                        me.asking = True
                        try:
                            self._ask_for_slots(self._slots, deadline)
                        finally:
                            me.asking = False
                        continue
                    me.ready.wait(deadline.remaining())
                short_of_slots = self._slots is not None and self._short_of_slots
                self._waits.append(0.0 if waiting_since is None else self._clock.monotonic() - waiting_since)
            finally:
                self._waiting -= 1
                if me in self._line:  # it gave up, or failed: the next in line may take its token
                    self._line.remove(me)
                    self._wake_takers()
        if self._slots is not None and short_of_slots:  # the slots held it back, not the rate
            raise SlotWaitTimeout(self._slots.name, deadline.seconds, self._slots.why_no_slot(deadline))
        raise SlotWaitTimeout(self.name, deadline.seconds)

    def _in_line(self) -> list["_Waiter"]:
        """The tasks in line for a token, first first: those not away asking the pool for slots (one would
        keep the tokens from everyone meanwhile). Called with the lock held."""
        return [waiter for waiter in self._line if not waiter.asking]

    def _takers(self) -> int:
        """How many tasks can take a token now: a token each, with a slot each. Called with the lock held."""
        return len(self._tokens) if self._slots is None else min(len(self._tokens), len(self._free))

    def _may_take(self, me: "_Waiter") -> bool:
        """Whether `me` may take a token: there is one to take, and `me` is among the first in line, one per
        token, or the first has not waited long. Called with the lock held."""
        takers = self._takers()
        if takers <= 0:
            return False
        line = self._in_line()
        waited = self._clock.monotonic() - line[0].since if line else 0.0
        return waited < self._policy.queue_after_seconds or me in line[:takers]

    def _wake_takers(self) -> None:
        """Wake the tasks that can take a token now. Called with the lock held."""
        now = self._clock.monotonic()
        for waiter in self._in_line()[: self._takers()]:
            if waiter.woken_at is None:
                waiter.woken_at = now
            waiter.ready.notify()

    def _wake_first(self) -> None:
        """Called with the lock held."""
        if line := self._in_line():
            line[0].ready.notify()

    def _wake_all(self) -> None:
        """Called with the lock held."""
        for waiter in self._line:
            waiter.ready.notify()

    def counts(self) -> TokenCounts:
        with self._lock:
            return TokenCounts(
                self.name,
                self.granted,
                self.spent,
                self.dropped,
                self.writes,
                self.refused_writes,
                self.busy_writes,
            )

    def _ask_for_slots(self, pool: SlotPool, deadline: Deadline) -> None:
        """Wait in the pool for the slots the manager wants, on behalf of the run: a waiting task does, so
        that the pool sees the demand (it leases for it, and keeps the blocks a wait would take) while the
        manager goes on writing tokens for the slots the run has. Called with the lock held, released
        meanwhile."""
        wanted, self._asking = self._slots_wanted, True
        self._lock.release()
        try:
            until = min(deadline.expires_at, self._clock.monotonic() + self._policy.slot_wait_seconds)
            taken = pool.take_up_to(wanted, until)
        finally:
            self._lock.acquire()
            self._asking = False
        self._free.extend(taken)
        self._slots_wanted = max(0, self._slots_wanted - len(taken))
        self._manager_wakeup.notify()  # tokens for them
        self._wake_takers()

    def _copy_waits(self) -> Samples:
        with self._lock:
            return array("d", self._waits)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._manager_wakeup.notify()
            self._wake_all()
        self._manager.join(5)
        with self._lock:
            free, self._free = self._free, []
        _give_back(free)
        if self.granted:
            counts = self.counts()
            # Inside a flow run, the run logger puts the line in the run's logs on the server.
            (get_run_logger() if FlowRunContext.get() else logger).info(counts.line())

    # Task side.

    def _start_call(self, slot: AbstractContextManager[None]) -> "_Call":
        """Called with the lock held."""
        call = self._next_call
        self._next_call += 1
        self._calls[call] = self._clock.monotonic()
        return _Call(self, call, slot)

    def _call_ended(self, call: int, slot: AbstractContextManager[None]) -> None:
        _give_back([slot])  # to the pool, which may rotate it out; taken again at once if a token needs it
        with self._lock:
            self._ended.at = self._clock.monotonic()
            self._call_seconds.append(self._ended.at - self._calls.pop(call))
            self._manager_wakeup.notify()
        with suppress(RuntimeError):  # the pool closed or failed: the manager and the waiting tasks learn it
            self._take_free_slots()

    def _take_free_slots(self) -> None:
        """Free slots of the pool for the tokens that have none, taken at once: none is waited for. Not while
        a task waits in the pool for slots: it would find none of those given back (the task ending a call
        runs on and takes them first), and the other tasks wait for it."""
        if self._slots is None:
            return
        with self._lock:
            short = len(self._tokens) - len(self._free)
            asking = self._asking
        if short <= 0 or self._closing or asking:
            return
        taken = self._slots.take_up_to(short, self._clock.monotonic())
        with self._lock:
            self._free.extend(taken)
            self._wake_takers()

    def _drop_stale_tokens(self, now: float) -> int:
        dropped = 0
        while self._tokens and now - self._tokens[0] > self._token_seconds:
            self._tokens.popleft()
            dropped += 1
        self.dropped += dropped
        return dropped

    # Manager side: the only thread that writes to the server.

    def _unserved(self) -> int:
        """Tokens short of what the waiting tasks take now and, when calls are known to be short, of what
        the calls under way take while a write is under way: the next write goes out before the tokens on
        hand run out, and no task waits for the server's answer. Called with the lock held."""
        self._drop_stale_tokens(self._clock.monotonic())
        ahead = 0
        if self._tokens_per_slot() > 1 and self._refill_seconds:
            # Twice a refill's usual time, read and write: a write the server was too busy for is retried.
            refill = sorted(self._refill_seconds)[len(self._refill_seconds) // 2]
            ahead = math.ceil(len(self._calls) * min(1.0, 2 * refill / self._longest_call()))
        return self._waiting + ahead - len(self._tokens)

    def _spendable(self, now: float) -> int:
        """Tokens this run can spend within a token's life from `now`, beyond those on hand: by its free slots
        and the slots of its calls, while a task waits for each. Called with the lock held."""
        free = len(self._free) if self._slots is not None else self._waiting
        per_slot = self._tokens_per_slot()
        tokens = min(free, self._waiting) * per_slot
        if per_slot > 1:  # a slot in a call is back in time for a token only if calls are known to be short
            call, back_after = self._longest_call(), self._back_after_call()
            end = now + self._token_seconds
            for started in self._calls.values():
                back = max(now, started + call) + back_after
                if back <= end:
                    tokens += 1 + math.floor((end - back) / (call + back_after))
        return tokens - len(self._tokens)

    def _tokens_per_slot(self) -> int:
        """Calls a free slot can start within a token's life: the first once a waiting task woke for it, the
        others one after another, each as long as the longest recent call and the time until a task comes
        for the slot after it; one until enough calls tell. Called with the lock held."""
        if len(self._call_seconds) < self._policy.recent_calls:
            return 1
        after_wake = self._token_seconds - max(self._wake_seconds, default=0.0)
        return 1 + max(0, math.floor(after_wake / (self._longest_call() + self._back_after_call())))

    def _back_after_call(self) -> float:
        """How long after a call's end a task takes a token with its slot, at the longest recently: the task
        back from the call, or one woken for it. Called with the lock held."""
        return max(max(self._wake_seconds, default=0.0), max(self._return_seconds, default=0.0))

    def _longest_call(self) -> float:
        """The longest of the recent calls, in seconds, at least a millisecond. Called with the lock held."""
        return max(max(self._call_seconds), 1e-3)

    def _surplus_slots(self) -> list[AbstractContextManager[None]]:
        """Free slots no token on hand needs, taken out to go back to the pool. Called with the lock held."""
        surplus = len(self._free) - len(self._tokens)
        if surplus <= 0:
            return []
        given, self._free = self._free[:surplus], self._free[surplus:]
        return given

    def _manage(self) -> None:
        while True:
            with self._lock:
                while not self._closing and self._unserved() <= 0:
                    surplus = self._surplus_slots()
                    if not surplus:
                        self._manager_wakeup.wait(self._policy.idle_check_seconds)
                        continue
                    self._lock.release()
                    try:
                        _give_back(surplus)
                    finally:
                        self._lock.acquire()
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
                    self._wake_all()
                return
            except Exception as error:
                logger.warning("rate limiter %s: Prefect API call failed: %s", self.name, error)
                self._sleep(self._policy.retry_seconds)

    def _serve(self, wanted: int) -> None:
        started = self._clock.monotonic()
        state = self._api.read(self.name)
        decay = state.slot_decay_per_second
        if decay <= 0:
            raise NotARateLimitError(self.name)
        # The headroom, as whole slots the bucket keeps back; a token lives as long as they take to drain.
        headroom = min(math.ceil(decay * self._policy.headroom_seconds), state.limit // 2)
        capacity = state.limit - headroom
        block = max(1, min(capacity // 2, round(decay * self._policy.block_seconds)))
        with self._lock:
            self._token_seconds = max(
                headroom / decay - self._policy.send_margin_seconds, self._policy.shortest_token_seconds
            )
        read_at = self._clock.now()
        lands_at = read_at + self._write_latency()  # a write sent now
        land_at: datetime | None = None  # None: send at once
        # More tasks than the bucket holds wait for its room, not for more than it: with an empty bucket,
        # the rate holds nobody back.
        waited_for_room = _room_at(state, min(wanted, capacity), capacity, lands_at) > lands_at
        if waited_for_room:
            # The rate holds these tasks back: wait for a whole block's room, however few wait now. Others
            # arrive meanwhile, and every write costs half a slot in rounding, so fewer, bigger writes keep
            # the rate exact. The free slots no token needs go back meanwhile: held idle, they would keep
            # them from other flow runs.
            land_at = _room_at(state, block, capacity, lands_at)
            if land_at > lands_at:  # given back for no wait, they would be gone when the write needs them
                with self._lock:
                    surplus = self._surplus_slots()
                _give_back(surplus)
        while not self._closing:
            if land_at is not None:
                # Sent when it lands just after a whole slot drained (the next one, if it is too late for
                # `land_at`): the server then loses almost nothing of the drain to its rounding.
                lands_at = self._clock.now() + self._write_latency()
                if land_at < lands_at:
                    land_at = _next_whole_slot(state, lands_at)
                self._sleep_until(land_at)
            lands_at = self._clock.now() + self._write_latency()
            # After a busy server made this write late, the bucket holds more room: take it while it lasts.
            room = capacity - _occupied(state, read_at, lands_at)
            # Slots for as many tokens as the rate grants in a token's life, or the room if more: fewer
            # would cap the run below the rate, as its own tokens in the bucket leave it less room.
            count = min(room, self._spendable_with_slots(max(room, math.ceil(decay * self._token_seconds))))
            if count <= 0:
                # The slots, not the rate, hold these calls back: read again once some came, or a call ended.
                with self._lock:
                    self._manager_wakeup.wait(self._policy.slot_wait_seconds)
                return
            sent_at = self._clock.monotonic()
            try:
                taken = self._api.take_rate_tokens(self.name, count)
            except ServerBusy:
                self.busy_writes += 1
                # It wrote nothing: land just after the next whole slot instead.
                land_at = _next_whole_slot(state, self._clock.now() + self._write_latency())
                continue
            self._write_seconds.append(self._clock.monotonic() - sent_at)
            if not taken:
                self.refused_writes += 1
                return  # someone else took the room: read again
            with self._lock:
                granted_at = self._clock.monotonic()
                if not waited_for_room:  # a refill's own time: the read, the write and its retries
                    self._refill_seconds.append(granted_at - started)
                self.granted += count
                self.writes += 1
                self._tokens.extend(granted_at for _ in range(count))
                self._wake_takers()
            self._take_free_slots()
            return

    def _spendable_with_slots(self, target: int) -> int:
        """Tokens the run can spend within their life: free slots of the pool are taken for those short of
        `target` it could not spend otherwise, and a waiting task asks the pool for the rest."""
        with self._lock:
            spendable = self._spendable(self._clock.monotonic())
            # Slots for the tokens short of `target`, each worth a few; never more than tasks wait for.
            wanted = min(self._waiting - len(self._free), -(-(target - spendable) // self._tokens_per_slot()))
        free_now = self._clock.monotonic()  # free ones only: none is waited for
        taken = [] if self._slots is None or wanted <= 0 else self._slots.take_up_to(wanted, free_now)
        with self._lock:
            self._free.extend(taken)
            self._slots_wanted = max(0, wanted - len(taken))
            self._short_of_slots = self._slots_wanted > 0
            if self._slots_wanted and not self._asking:
                self._wake_first()  # to ask the pool for them
            return self._spendable(self._clock.monotonic())

    def _write_latency(self) -> timedelta:
        """The recent writes' time to an answer, at the median: about when a write sent now lands."""
        if not self._write_seconds:
            return timedelta(0)
        return timedelta(seconds=sorted(self._write_seconds)[len(self._write_seconds) // 2])

    def _sleep_until(self, when: datetime) -> None:
        """Until a write sent then would land a little after `when`."""
        margin = random.uniform(*self._policy.write_margin_seconds)
        self._sleep((when - self._write_latency() - self._clock.now()).total_seconds() + margin)

    def _sleep(self, seconds: float) -> None:
        wake_at = self._clock.monotonic() + seconds
        with self._lock:
            while not self._closing and (remaining := wake_at - self._clock.monotonic()) > 0:
                self._manager_wakeup.wait(remaining)


class _Waiter:
    """A task waiting for a token: woken on its own when it is first in line."""

    __slots__ = ("asking", "ready", "since", "woken_at")

    def __init__(self, ready: threading.Condition, since: float) -> None:
        self.ready = ready
        self.since = since
        self.asking = False  # away asking the slot pool for the slots the manager wants
        self.woken_at: float | None = None  # when woken for a token, until it runs


class _Call:
    """A call's hold on its slot: ending it gives the slot back and tells the limiter how long it took."""

    def __init__(self, limiter: RateLimiter, call: int, slot: AbstractContextManager[None]) -> None:
        self._limiter, self._call, self._slot = limiter, call, slot

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._limiter._call_ended(self._call, self._slot)


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

"""This process's share of one Prefect global concurrency limit, handed to tasks without server round trips.

The design, and the reasons for it: docs/runtime.md#slotpool."""

import logging
import math
import random
import threading
from array import array
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime import unheld_slots
from flows.runtime.deadline import Deadline
from flows.runtime.errors import MissingConcurrencyLimitError, RuntimeConfigurationError, SlotWaitTimeout
from flows.runtime.limits_api import Limits, LimitsApiError, LimitState, ServerBusy
from flows.runtime.run_metrics import RunMetrics, Samples
from flows.runtime.runtime_events import RuntimeEvents
from rpa_naming import waiters_limit_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotPolicy:
    lease_seconds: float = 60.0  # the API's minimum
    # A lease unrenewed this long lapses on the servers this project starts (RPA_LEASE_SILENCE_SECONDS of
    # local_prefect_server/lease_files.py); a third of it between renewals: two may fail before it lapses.
    silence_seconds: float = 12.0
    renew_every_seconds: float = 4.0
    first_renew_seconds: float = 0.0  # at once: a run killed a second after it started lapses soon too
    renew_retry_seconds: float = 2.0
    linger_seconds: float = 0.1
    warm_grace_seconds: float = 1.0
    # How long `warm(wait=True)` waits for the first lease: sent before the flow run submits its tasks, it is
    # answered at once; among their writes to a busy SQLite server, a lease takes far longer.
    warm_wait_seconds: float = 2.0
    pace_seconds: float = 0.2
    # Jittered x0.75-1.25 per lease, so slots come back one by one. Each hand-over leaves a slot idle for a
    # release, a poll and a lease: a longer tenure hands over less often, but makes waiting runs wait longer
    # and finish further apart. Where speed and fairness meet: `make bench-handover`, docs/benchmarks.md.
    tenure_seconds: float = 2.0
    max_tenure_seconds: float = 20.0
    clock_margin_seconds: float = 5.0  # a lease answered 'gone' this long before it could expire was lost
    courtesy_seconds: float = 0.3
    watch_every_seconds: float = 0.5  # how often a pool holding slots re-reads whether the limit is full
    # How soon a pool with waiting tasks asks again after a denial: one holding slots (or that just held
    # some) after `slow_poll_seconds`, one that has gone without for `starved_seconds` after
    # `fast_poll_seconds`, in between in proportion. A pool holding slots takes free ones only once they
    # have stayed free for `leftover_seconds` (longer leaves slots idle that nobody else wanted).
    slow_poll_seconds: float = 0.5
    fast_poll_seconds: float = 0.1
    starved_seconds: float = 1.0
    leftover_seconds: float = 0.3
    contention_seconds: float = 5.0  # a limit found full this recently may have flow runs waiting for it
    waiters_limit: int = 1_000_000  # the waiters limit is a count, never a bound
    # Slots of the waiters limit a waiting pool holds, one short of its share, against one for a pool only
    # holding slots: the count's digits in base 100 are how many flow runs are short, wait, and hold.
    waiting_weight: int = 100
    short_weight: int = 10_000

    @property
    def lapses_after(self) -> float:
        """How long after its last renewal a lease may lapse, on whichever server."""
        return min(self.lease_seconds, self.silence_seconds)


@dataclass(eq=False)
class _Block:
    lease_id: UUID
    size: int
    acquired_at: float
    renewed_at: float  # when the request that last set its lease's expiry was sent
    renew_due: float
    tenure_factor: float  # its share of the pool's tenure: blocks expire one by one
    in_use: int = 0
    idle_since: float = 0.0
    used: bool = False
    retiring: bool = False  # takes no more tasks; goes back to the server once its slots are back
    lapsed: bool = False  # its lease is gone from the server: nothing to give back


@dataclass(frozen=True)
class _Work:
    release: list[_Block] = field(default_factory=list)
    renew: list[_Block] = field(default_factory=list)
    read_limit: bool = False

    def __bool__(self) -> bool:
        return bool(self.release or self.renew or self.read_limit)


class SlotPool:
    def __init__(
        self,
        name: str,
        api: Limits,
        policy: SlotPolicy,
        *,
        metrics: RunMetrics,
        events: RuntimeEvents,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`clock`: the one the tasks' deadlines are on."""
        self.name = name
        self._clock = clock
        self._api = api
        self._policy = policy
        self._events = events
        self._waits = array("d")  # seconds each task waited in `slot`, appended under the lock it holds
        metrics.slot_waits_of(name, self._copy_waits)
        self._lock = threading.Lock()
        self._slot_free = clock.condition(self._lock)
        self._manager_wakeup = clock.condition(self._lock)
        self._warmed = clock.condition(self._lock)  # the first lease asked for by `warm` was answered
        self._blocks: list[_Block] = []
        self._to_release: list[_Block] = []
        self._waiting = 0
        self._warming = 0  # slots expected soon, asked for before tasks wait
        self._limit_full = False  # as of the last read
        self._tenure = policy.tenure_seconds
        self._rotated_slots = 0  # given back by the last rotation, not yet seen taken or not
        self._untaken_rotations = 0  # rotations in a row whose slots nobody took at once
        self._next_lease = 0.0  # pacing and courtesy
        self._next_read = 0.0
        # When the sleeping manager wakes up by itself; -inf while it is awake (it plans again before it
        # sleeps, so nothing needs to wake it).
        self._manager_wakes_at = -math.inf
        # When this pool last held a block; a new pool counts as having gone without for long.
        self._last_held = clock.monotonic() - policy.starved_seconds
        self._free_since: float | None = None  # free slots a pool holding some is waiting to see left over
        self._free_seen_count = 0  # how many were free then, or fewest since: fewer means one was taken
        self._last_full = -math.inf  # when a read last found the limit full
        self._lost_slots = 0  # of leases the server forgot before they could expire
        self._full_untouched_since: float | None = None  # since when the limit is full and nobody wrote it
        self._seen_updated: datetime | None = None
        self._seen_limit = 0
        self._waiters_name = waiters_limit_name(name)
        # This pool's lease on the waiters limit: `waiting_weight` or `short_weight` slots while its tasks
        # wait, one while it holds slots of the full limit, none otherwise.
        self._counted: _Block | None = None
        self._waiters_known = True  # False once the waiters limit could not be had: who waits is unknown
        self._others_waiting = 0  # flow runs waiting, this one aside, as of the last read
        self._other_contenders = 0  # flow runs waiting or holding slots, this one aside, as of the last read
        self._others_short = 0  # flow runs waiting a slot or more below their fair share, as of the last read
        self._closing = False
        # Until a lease of this pool is renewed, the server has yet to learn how often it renews: the first
        # lease is renewed at once (one is enough: a run's first slots come as several leases).
        self._renewed_once = False
        self._teaching_renewal_planned = False
        self._failure: RuntimeConfigurationError | None = None
        self._manager = threading.Thread(target=self._manage, name=f"slots:{name}", daemon=True)
        self._manager.start()

    def slot(self, deadline: Deadline) -> AbstractContextManager[None]:
        """A slot for the `with` block: waited for on entering it (SlotWaitTimeout at the deadline), given
        back on leaving it."""
        return _Slot(self, deadline)

    def why_no_slot(self, deadline: Deadline) -> str | None:
        """Why a task found no slot by its deadline, when the cause is slots that no lease holds."""
        with self._lock:
            lost, untouched_since, holding = self._lost_slots, self._full_untouched_since, bool(self._blocks)
        if lost:
            return unheld_slots.lost_leases(self.name, lost)
        untouched = 0.0 if untouched_since is None else self._clock.monotonic() - untouched_since
        if holding or untouched < deadline.seconds / 2:
            return None  # slots change hands, or this run holds some: an ordinary wait for a busy limit
        storage = self._api.lease_storage()
        return unheld_slots.full_and_untouched(self.name, self._seen_limit, untouched, storage)

    def take_up_to(self, count: int, until: float) -> list[AbstractContextManager[None]]:
        """Up to `count` slots, each given back when its context exits: those free once one is (the pool
        leases for all `count` meanwhile), or none if none came before `until` (on the pool's clock)."""
        first = self._take(until, wanted=count)
        if first is None:
            return []
        blocks = [first]
        with self._lock:
            while len(blocks) < count and (block := self._block_with_room()) is not None:
                block.in_use += 1
                block.used = True
                blocks.append(block)
        return [_Held(self, block) for block in blocks]

    def warm(self, expected_tasks: int, *, wait: bool = False) -> None:
        """Lease a first block for tasks about to come, without waiting for them to ask; with `wait`, return
        once that request is answered (or after `warm_wait_seconds`)."""
        with self._lock:
            self._warming = expected_tasks
            self._manager_wakeup.notify()
            until = self._clock.monotonic() + (self._policy.warm_wait_seconds if wait else 0.0)
            while self._warming and not self._closing and (remaining := until - self._clock.monotonic()) > 0:
                self._warmed.wait(remaining)

    def close(self, drain_seconds: float = 10.0) -> None:
        """Give every lease back. Slots still in use go back when handed back; if that takes longer than
        `drain_seconds`, their leases are left to lapse on the server."""
        with self._lock:
            self._closing = True
            for block in self._blocks:
                block.retiring = True
            self._manager_wakeup.notify()
            self._slot_free.notify_all()
            self._warmed.notify_all()
        self._manager.join(drain_seconds)

    # Task side: local only, microseconds.

    def _take(self, until: float, wanted: int = 1, waits: "Samples | None" = None) -> _Block | None:
        """A block with a slot taken for the caller, None if none came before `until`. A task's wait goes to
        `waits`: exactly 0 when a slot was free at once, which costs no clock read."""
        with self._lock:
            self._raise_if_closed()
            block = self._block_with_room()
            if block is not None:
                if waits is not None:
                    waits.append(0.0)
                block.in_use += 1
                block.used = True
                return block
            asked_at = self._clock.monotonic()
            if self._waiting == 0:  # demand starts: ask soon, not when the last watch planned to look
                self._next_read = min(self._next_read, asked_at + self._poll_delay(asked_at))
            self._waiting += wanted
            self._manager_wakeup.notify()
            try:
                while (block := self._block_with_room()) is None:
                    self._raise_if_closed()
                    if (remaining := until - self._clock.monotonic()) <= 0:
                        break
                    self._slot_free.wait(remaining)
            finally:
                self._waiting -= wanted
            if waits is not None:
                waits.append(self._clock.monotonic() - asked_at)
            if block is None:
                return None
            block.in_use += 1
            block.used = True
            return block

    def _copy_waits(self) -> Samples:
        with self._lock:
            return array("d", self._waits)

    def _raise_if_closed(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise RuntimeError(f"slot pool {self.name!r} is closed")

    def _block_with_room(self) -> _Block | None:
        """The fullest open block that still has room (the newest of a kind): packing tasks lets the other
        blocks fall idle. One pass, no key function: every task entering a slot pays for it, under the lock,
        over as many blocks as the run holds slots."""
        renewed_since = self._clock.monotonic() - self._safe_seconds()
        best: _Block | None = None
        for block in self._blocks:
            if block.retiring or block.in_use >= block.size or block.renewed_at <= renewed_since:
                continue
            if best is None or (block.in_use, block.acquired_at) >= (best.in_use, best.acquired_at):
                best = block
        return best

    def _open_blocks(self, now: float) -> list[_Block]:
        """Blocks that may take tasks: not retiring, and their lease surely outlives the next renewal."""
        safe_seconds = self._safe_seconds()
        return [b for b in self._blocks if not b.retiring and now - b.renewed_at < safe_seconds]

    def _safe_seconds(self) -> float:
        """How long after its last renewal a lease surely outlives the next one."""
        return self._policy.lapses_after - self._policy.renew_every_seconds

    def _give_back(self, block: _Block) -> None:
        now = self._clock.monotonic()
        with self._lock:
            block.in_use -= 1
            if block.lapsed:
                return
            if block.in_use == 0:
                block.idle_since = now
            if self._should_rotate(block, now):
                block.retiring = True
            if block.retiring:
                if block.in_use == 0:
                    self._retire(block, now, rotation=not self._closing)
                return
            self._slot_free.notify()
            # An idle block goes back once it has lingered: wake the manager only if it would sleep past
            # that. Waking it on every hand-back makes each one a contest for the lock with the manager's
            # thread, which multiplies what a slot costs ten threads.
            if block.in_use == 0 and self._idle_until(block) < self._manager_wakes_at:
                self._manager_wakes_at = -math.inf  # woken: it plans again before it sleeps
                self._manager_wakeup.notify()

    # Manager side: the only thread that talks to the server.

    def _manage(self) -> None:
        while True:
            with self._lock:
                work, sleep_for = self._plan(self._clock.monotonic())
                if work is None:
                    return
                if not work:
                    self._manager_wakes_at = self._clock.monotonic() + sleep_for
                    self._manager_wakeup.wait(sleep_for)
                    self._manager_wakes_at = -math.inf
                    continue
            try:
                self._perform(work)
            except RuntimeConfigurationError as error:
                logger.error("slot pool %s: %s", self.name, error)
                with self._lock:
                    self._fail(error)
            except Exception as error:
                # Beyond the API's quick retries. Unreleased leases are queued again; waiting tasks are
                # served on a later round: slower, never fatal, never over the limit.
                logger.warning("slot pool %s: Prefect API call failed: %s", self.name, error)
                with self._lock:
                    self._back_off(self._clock.monotonic())

    def _plan(self, now: float) -> tuple[_Work | None, float]:
        """What the manager should do now, or how long it may sleep. Called with the lock held."""
        for block in [b for b in self._blocks if b.in_use == 0]:
            lingered = self._waiting == 0 and now >= self._idle_until(block)
            if block.retiring or lingered:
                self._retire(block, now, rotation=False)
        if self._counted is not None and (self._closing or not self._still_counted(now)):
            self._to_release.append(self._counted)  # served, holding none, or going: it contends no more
            self._counted = None
        release, self._to_release = self._to_release, []
        renew = [b for b in self._leases() if now >= b.renew_due]
        wants_slots = self._unserved() > 0 and not self._closing
        next_read = max(self._next_read, self._next_lease) if wants_slots else self._next_read
        watching = wants_slots or (bool(self._blocks) and not self._closing)
        work = _Work(release, renew, read_limit=watching and now >= next_read)
        if work:
            return work, 0.0
        if self._closing and not self._blocks:
            return None, 0.0
        wake_times = [b.renew_due for b in self._leases()]
        idle = [self._idle_until(b) for b in self._blocks if b.in_use == 0]
        if idle and self._waiting == 0:
            wake_times.append(min(idle))
        if watching:
            wake_times.append(next_read)
        return work, max(0.0, min(wake_times, default=now + 1.0) - now)

    def _perform(self, work: _Work) -> None:
        # Renewals first, each on its own: a lease running out costs more than a late release or read.
        failures = [error for block in work.renew if (error := self._renew(block)) is not None]
        if work.release:
            logger.debug("slot pool %s: giving back %d slots", self.name, sum(b.size for b in work.release))
        for index, block in enumerate(work.release):
            try:
                self._api.release(block.lease_id)
            except Exception:
                with self._lock:
                    self._to_release.extend(work.release[index:])
                raise
            self._events.released(self.name, block.lease_id, block.size)
        if failures:
            raise failures[0]
        if work.read_limit:
            self._read_and_grow()

    def _renew(self, block: _Block) -> Exception | None:
        sent_at = self._clock.monotonic()
        try:
            renewed = self._api.renew(block.lease_id, self._policy.lease_seconds)
        except Exception as error:
            with self._lock:
                block.renew_due = self._clock.monotonic() + self._policy.renew_retry_seconds
            return error
        if renewed:
            self._events.renewed(self.name, block.lease_id, block.size)
        answered_at = self._clock.monotonic()
        lapses_after = self._policy.lapses_after if renewed else self._lapses_after()
        with self._lock:
            could_expire_at = block.renewed_at + lapses_after - self._policy.clock_margin_seconds
            self._renewed_once = self._renewed_once or renewed
            block.renewed_at = sent_at
            block.renew_due = sent_at + self._policy.renew_every_seconds
            if not renewed and block is self._counted:
                self._counted = None  # counted again at the next read or denial
            elif not renewed and block in self._blocks:
                # Gone from the server: stop handing its slots out; slots still in use cannot be recalled
                # (Prefect's own leases behave the same). Nothing to give back either.
                block.lapsed = True
                self._blocks.remove(block)
                if answered_at < could_expire_at:  # not expired: the server forgot it, and still counts it
                    self._lost_slots += block.size
                    logger.error("slot pool: %s", unheld_slots.lost_leases(self.name, self._lost_slots))
                else:  # expired, and its slots may be someone else's already
                    logger.warning("slot pool %s: lease %s lapsed before renewal", self.name, block.lease_id)
        return None

    def _lapses_after(self) -> float:
        """How long after its last renewal a lease of this server may lapse: a server keeping its leases in
        memory (Prefect's default) holds one its whole lease; silence lapses one only on the servers this
        project starts. Unknown, the earlier of the two: a lease then counts as lost only when it certainly
        was."""
        try:
            storage = self._api.lease_storage()
        except Exception:  # asked only to word a report: a server that does not answer leaves it unknown
            storage = None
        if storage == unheld_slots.MEMORY_LEASES:
            return self._policy.lease_seconds
        return self._policy.lapses_after

    def _read_and_grow(self) -> None:
        state = self._api.read(self.name)
        now = self._clock.monotonic()
        with self._lock:
            self._limit_full = state.active and state.free_slots <= 0
            if self._limit_full:
                self._last_full = now
            if not self._limit_full:
                self._full_untouched_since = None
            elif self._full_untouched_since is None or state.updated != self._seen_updated:
                self._full_untouched_since = now  # a write (a slot taken or given back) restarts the clock
            self._seen_updated, self._seen_limit = state.updated, state.limit
            watch_waiters = self._limit_full and self._waiters_known and bool(self._blocks)
            count_holding = watch_waiters and self._counted is None and not self._closing
            # Several slots free on a limit full lately: how many this run may take depends on how many
            # contend for it now, not when this run last looked.
            recount_contenders = (
                not watch_waiters
                and self._waiters_known
                and state.free_slots > 1
                and now - self._last_full < self._policy.contention_seconds
                and self._unserved() > 0
            )
        if count_holding:
            self._count_self(1)
        if recount_contenders:
            self._read_waiters()
        if watch_waiters:
            self._read_waiters()
            with self._lock:
                weight = self._waiting_weight()
                counted = self._counted
                recount = counted is not None and self._counted_waiting() and counted.size != weight
            if recount:
                self._count_self(weight)
        with self._lock:
            held = sum(b.size for b in self._blocks) + sum(b.size for b in self._to_release)
            shared = state.active_slots > held  # other flow runs hold slots of this limit too
            if self._rotated_slots and now >= self._next_lease and not self._waiters_known:
                # Full again this soon: flow runs holding none took them (those holding some may not, yet).
                # Twice in a row not: nobody waits, rotate less often (once may be others giving back too).
                self._untaken_rotations = 0 if state.free_slots <= 0 else self._untaken_rotations + 1
                if self._untaken_rotations == 0:
                    self._tenure = self._policy.tenure_seconds
                elif self._untaken_rotations >= 2:
                    self._tenure = min(2 * self._tenure, self._policy.max_tenure_seconds)
                self._rotated_slots = 0
            unserved = self._unserved()
            if unserved <= 0 or self._closing:
                self._next_read = now + self._policy.watch_every_seconds
                return
            if now < self._next_lease:
                self._next_read = self._next_lease
                return
            contended = now - self._last_full < self._policy.contention_seconds
            below_fair_share = self._below_fair_share()
            # Counted just now, nobody waits: slots a run gave back (at its end, most often) are nobody
            # else's turn. A count older than this read may miss a run that has started waiting since.
            nobody_waits = recount_contenders and self._waiters_known and self._others_waiting == 0
            if (
                contended
                and shared
                and held
                and state.free_slots > 0
                and not (below_fair_share or nobody_waits)
            ):
                # A flow run holding slots of a limit others wait for takes more only once they have stayed
                # free for a while: those that hold none have had their chance at them first.
                if self._free_since is None or state.free_slots < self._free_seen_count:
                    # Left over means free and not taken since: a limit shared by busy runs is written every
                    # few milliseconds, so counting from its last write, slots were never left over.
                    self._free_since, self._free_seen_count = now, state.free_slots
                # The very sum it waits until: `now - since < leftover` can stay true at that time (floats).
                left_over_at = self._free_since + self._policy.leftover_seconds
                if now < left_over_at:
                    self._next_read = left_over_at
                    return
            self._free_since = None
            sizes = self._block_sizes(
                state, unserved, held, shared=shared, contended=contended, nobody_waits=nobody_waits
            )
        leased = 0
        for size in sizes:
            sent_at = self._clock.monotonic()
            lease_id = self._api.lease_slots(self.name, size, self._policy.lease_seconds)
            if lease_id is None:
                break
            with self._lock:
                self._add(lease_id, size, sent_at)
            self._events.leased(self.name, lease_id, size)
            leased += size
        with self._lock:
            self._warming = 0  # one attempt: after it, tasks ask for themselves
            self._warmed.notify_all()
            if leased:
                leased_at = self._clock.monotonic()
                self._next_read = self._next_lease = leased_at + self._policy.pace_seconds
            else:
                self._back_off(now)
            register = (
                not leased and not self._counted_waiting() and self._waiters_known and not self._closing
            )
            weight = self._waiting_weight()
        if register:
            self._count_self(weight)
        logger.debug("slot pool %s: %d waiting, leased %d", self.name, unserved, leased)

    def _block_sizes(
        self,
        state: LimitState,
        unserved: int,
        held: int,
        *,
        shared: bool,
        contended: bool,
        nobody_waits: bool,
    ) -> list[int]:
        """The leases to ask for now, one after the other, a slot count each. Called with the lock held."""
        if not state.active:  # an inactive limit counts nothing (Prefect lets everything through)
            return [unserved]
        free = min(unserved, state.free_slots)
        if free <= 0:
            return []
        if contended and nobody_waits:
            return [1] * free  # what those who held them gave back, and nobody else asked for
        if contended:
            # One slot while others may wait, or what this run is short of its fair share (after a rotation,
            # or when another run has ended).
            fair = self._fair_share()
            holding = sum(b.size for b in self._blocks)
            short = math.floor(fair) - holding if fair is not None and self._short_of_share() else 1
            return [1] * max(1, min(short, free))
        if held and not shared:
            # Alone on the limit a pace after its first slots: whoever started with this run has had its
            # chance at the other half; take what the tasks need.
            return [1] * free
        # Half of what is free at most, so that whoever else starts now finds the other half.
        return [1] * min(free, math.ceil(state.free_slots / 2))

    def _leases(self) -> list[_Block]:
        """Every lease to renew: the blocks, and the one on the waiters limit."""
        return self._blocks if self._counted is None else [*self._blocks, self._counted]

    def _counted_waiting(self) -> bool:
        return self._counted is not None and self._counted.size >= self._policy.waiting_weight

    def _waiting_weight(self) -> int:
        """How much this pool counts for on the waiters limit while it waits. Called with the lock held."""
        return self._policy.short_weight if self._short_of_share() else self._policy.waiting_weight

    def _still_counted(self, now: float) -> bool:
        """Whether this pool still contends as it is counted: waiting, or holding slots of a limit found full
        lately (or wanting some, having just given its last back). Called with the lock held."""
        if self._counted_waiting():
            return self._unserved() > 0
        wants = bool(self._blocks) or self._unserved() > 0
        return wants and now - self._last_full < self._policy.contention_seconds

    def _count_self(self, size: int) -> None:
        """Lease this pool's count on the waiters limit, in place of the one it had: how the other pools of
        the full limit see this run."""
        with self._lock:
            previous, self._counted = self._counted, None
        sent_at = self._clock.monotonic()
        try:
            if previous is not None:
                self._api.release(previous.lease_id)
                previous = None
            self._api.ensure_limit(self._waiters_name, self._policy.waiters_limit)
            lease_id = self._api.lease_slots(self._waiters_name, size, self._policy.lease_seconds)
        except Exception as error:
            with self._lock:
                if previous is not None:
                    self._to_release.append(previous)  # not given back: the next round does
                if isinstance(error, ServerBusy):
                    # Busy (SQLite locked past the retries), not refused: counted at a later round. Raised,
                    # it would skip this round's lease too, on a loaded server round after round.
                    logger.debug("slot pool %s: server busy, not counted this round", self.name)
                    return
                if isinstance(error, LimitsApiError):  # refused (a key without the right to create limits)
                    logger.warning("slot pool %s: no waiters limit, rotating when full: %s", self.name, error)
                    self._waiters_known = False
                    return
            raise
        if lease_id is None:
            return
        with self._lock:
            renew_due = sent_at + self._first_renewal()
            self._counted = _Block(lease_id, size, sent_at, sent_at, renew_due, tenure_factor=1.0)
            self._manager_wakeup.notify()  # served meanwhile, perhaps: the next round gives it back

    def _read_waiters(self) -> None:
        try:
            counted = self._api.read(self._waiters_name).active_slots
        except MissingConcurrencyLimitError:
            counted = 0  # nobody has waited yet
        short, rest = divmod(counted, self._policy.short_weight)
        waiting, holding = divmod(rest, self._policy.waiting_weight)
        with self._lock:
            mine = 0 if self._counted is None else self._counted.size
            short -= mine == self._policy.short_weight
            waiting -= mine == self._policy.waiting_weight
            holding -= mine == 1
            self._others_short = max(0, short)
            self._others_waiting = max(0, short + waiting)
            self._other_contenders = max(0, short + waiting + holding)

    def _fair_share(self) -> float | None:
        """The limit over the flow runs that contend for it (waiting or holding slots, and this one); None
        when unknown."""
        if not self._waiters_known:
            return None
        return self._seen_limit / (self._other_contenders + 1)

    def _short_of_share(self) -> bool:
        """Holding a slot or more less than a fair share. Called with the lock held."""
        fair = self._fair_share()
        return fair is not None and sum(b.size for b in self._blocks) <= fair - 1

    def _below_fair_share(self) -> bool:
        """Waiting while short of a fair share. Called with the lock held."""
        return self._counted_waiting() and self._short_of_share()

    def _should_rotate(self, block: _Block, now: float) -> bool:
        """Whether a block goes back for others: the limit full, the block past its tenure, and, when who
        waits is known, others waiting while this pool holds more than its fair share. With more flow runs
        than slots, slots go round; otherwise a whole slot above the share goes back, or any above it while
        a waiting run is short of its own, so that shares settle (4, 3 and 3 of 10, never 4, 4 and 2)
        instead of a slot going round for ever. A run short of its share gets it at once, tenure or not:
        that hand-over happens once, not round after round. The pool falls no more than a slot below its
        share, unless the block is its last, of several slots (taken when nobody else wanted the limit):
        kept, it would keep the others below theirs for good. Called with the lock held."""
        if not self._limit_full:
            return False
        past_tenure = now - block.acquired_at >= self._tenure * block.tenure_factor
        fair = self._fair_share()
        if fair is None:
            return past_tenure
        if self._others_waiting == 0:
            return False
        kept = [b for b in self._blocks if not b.retiring]
        held = sum(b.size for b in kept)
        if fair < 1:
            return past_tenure and held > 0
        if not (past_tenure or self._others_short):
            return False
        above = held > fair if self._others_short else held >= fair + 1
        return above and (held - block.size > fair - 1 or kept == [block])

    def _retire(self, block: _Block, now: float, *, rotation: bool) -> None:
        block.retiring = True
        self._blocks.remove(block)
        self._last_held = now
        self._to_release.append(block)
        if rotation:
            self._next_lease = max(self._next_lease, now + self._policy.courtesy_seconds)
            self._rotated_slots += block.size
        self._manager_wakeup.notify()

    def _first_renewal(self) -> float:
        """Seconds from a new lease to its first renewal. Called with the lock held."""
        if self._renewed_once or self._teaching_renewal_planned:
            return self._policy.renew_every_seconds
        self._teaching_renewal_planned = True
        return self._policy.first_renew_seconds

    def _add(self, lease_id: UUID, size: int, sent_at: float) -> None:
        block = _Block(
            lease_id,
            size,
            acquired_at=sent_at,
            renewed_at=sent_at,
            renew_due=sent_at + self._first_renewal(),
            tenure_factor=random.uniform(0.75, 1.25),
            idle_since=sent_at,
        )
        self._blocks.append(block)
        self._slot_free.notify(size)

    def _fail(self, error: RuntimeConfigurationError) -> None:
        """The limit is gone or changed under the run: waiting tasks get the error, every lease goes back."""
        self._failure = error
        self._closing = True
        self._warmed.notify_all()
        for block in self._blocks:
            block.retiring = True
        self._slot_free.notify_all()

    def _idle_until(self, block: _Block) -> float:
        grace = self._policy.linger_seconds if block.used else self._policy.warm_grace_seconds
        return block.idle_since + grace

    def _unserved(self) -> int:
        """Slots wanted beyond those open: by waiting tasks, or by tasks announced through `warm`."""
        return max(self._waiting, self._warming) - sum(
            b.size - b.in_use for b in self._open_blocks(self._clock.monotonic())
        )

    def _back_off(self, now: float) -> None:
        self._next_read = now + self._poll_delay(now)

    def _poll_delay(self, now: float) -> float:
        """Slots given back go to whoever asks first: the longer a pool has gone without slots, the more
        often it asks, so that they go, most likely, to the flow run that has waited longest."""
        if self._blocks:
            self._last_held = now
        starved = min(1.0, (now - self._last_held) / self._policy.starved_seconds)
        if self._below_fair_share():
            starved = 1.0
        slow, fast = self._policy.slow_poll_seconds, self._policy.fast_poll_seconds
        return (slow - starved * (slow - fast)) * random.uniform(0.8, 1.2)


# Context managers as classes, not generators: a task pays for entering and leaving one on every call, and
# a generator's frame and the contextlib machinery around it cost more than the slot itself.


class _Held:
    """A slot taken already, given back on leaving the `with` block."""

    __slots__ = ("_block", "_pool")

    def __init__(self, pool: SlotPool, block: _Block) -> None:
        self._pool = pool
        self._block = block

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self._pool._give_back(self._block)


class _Slot:
    """A slot waited for on entering the `with` block, given back on leaving it."""

    __slots__ = ("_block", "_deadline", "_pool")

    def __init__(self, pool: SlotPool, deadline: Deadline) -> None:
        self._pool = pool
        self._deadline = deadline
        self._block: _Block | None = None

    def __enter__(self) -> None:
        pool, deadline = self._pool, self._deadline
        self._block = pool._take(deadline.expires_at, waits=pool._waits)
        if self._block is None:
            raise SlotWaitTimeout(pool.name, deadline.seconds, pool.why_no_slot(deadline))

    def __exit__(self, *_: object) -> None:
        if self._block is not None:
            self._pool._give_back(self._block)
            self._block = None

"""This process's share of one Prefect global concurrency limit, handed to its tasks without server round trips.

Every slot a task uses is backed by its own server lease (one slot per lease), so the server's count is
always at least what this process uses: the limit holds globally, across flow runs and workers, by
construction. Between tasks a slot stays in this process and the next task takes it from a local list; the
server only sees the pool grow while tasks wait, shrink when slots sit unused, and rotate:

- grow: while tasks wait, a manager thread reads the limit (a cheap read) and leases what is free;
- shrink: a slot nobody took for `linger_seconds` goes back to the server;
- rotate: a slot held longer than its tenure goes back to the server when its task hands it back, and this
  pool waits `courtesy_seconds` before asking again, so flow runs waiting on a full limit get their turn
  (tenures are jittered so a pool never gives everything back at once);
- renew: leases are renewed every `renew_every_seconds`; if the process dies they lapse, and Prefect gives
  the slots back about `lease_seconds` + 15 s later.
"""

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from flows.runtime.deadline import Deadline
from flows.runtime.errors import SlotWaitTimeout
from flows.runtime.limits_api import LimitsApi, without_client_retries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotPolicy:
    lease_seconds: float = 60.0  # the server's minimum: a dead process's slots come back soonest
    renew_every_seconds: float = 20.0  # a third of the lease: two renewals may fail before it lapses
    tenure_seconds: float = 4.0
    courtesy_seconds: float = 0.06
    linger_seconds: float = 0.25
    first_poll_seconds: float = 0.01  # re-read a full limit this soon, backing off to...
    max_poll_seconds: float = 0.05


@dataclass(eq=False)
class _Slot:
    lease_id: UUID
    acquired_at: float
    renewed_at: float
    tenure: float
    idle_since: float = 0.0
    lost: bool = False


@dataclass(frozen=True)
class _Work:
    release: list[_Slot] = field(default_factory=list)
    renew: list[_Slot] = field(default_factory=list)
    grow: bool = False

    def __bool__(self) -> bool:
        return bool(self.release or self.renew or self.grow)


class SlotPool:
    def __init__(self, name: str, api: LimitsApi, policy: SlotPolicy) -> None:
        self.name = name
        self._api = api
        self._policy = policy
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._manager_wakeup = threading.Condition(self._lock)
        self._held: set[_Slot] = set()
        self._free: list[_Slot] = []  # a stack: recently used slots are reused, unused ones age out
        self._to_release: list[_Slot] = []
        self._waiting = 0
        self._in_use = 0
        self._highest_in_use = 0
        self._courtesy_until = 0.0
        self._next_poll = 0.0
        self._poll_delay = policy.first_poll_seconds
        self._closing = False
        self._manager = threading.Thread(target=self._manage, name=f"slots:{name}", daemon=True)
        self._manager.start()

    @property
    def highest_in_use(self) -> int:
        return self._highest_in_use

    @contextmanager
    def slot(self, deadline: Deadline) -> Iterator[None]:
        held = self._take(deadline)
        try:
            yield
        finally:
            self._give_back(held)

    def close(self, drain_seconds: float = 10.0) -> None:
        """Give every lease back. Slots still in use are released when handed back; if that takes longer than
        `drain_seconds`, their leases are left to lapse on the server."""
        with self._lock:
            self._closing = True
            self._manager_wakeup.notify()
            self._slot_free.notify_all()
        self._manager.join(drain_seconds)

    def _take(self, deadline: Deadline) -> _Slot:
        with self._lock:
            if self._closing:
                raise RuntimeError(f"slot pool {self.name!r} is closed")
            if not self._free:
                self._waiting += 1
                self._manager_wakeup.notify()
                try:
                    while not self._free:
                        if self._closing:
                            raise RuntimeError(f"slot pool {self.name!r} is closed")
                        if deadline.expired():
                            raise SlotWaitTimeout(self.name, deadline.seconds)
                        self._slot_free.wait(deadline.remaining())
                finally:
                    self._waiting -= 1
            held = self._free.pop()
            self._in_use += 1
            self._highest_in_use = max(self._highest_in_use, self._in_use)
            return held

    def _give_back(self, held: _Slot) -> None:
        now = time.monotonic()
        with self._lock:
            self._in_use -= 1
            if held.lost:
                self._held.discard(held)
            elif self._closing or now - held.acquired_at >= held.tenure:
                self._held.discard(held)
                self._to_release.append(held)
                self._courtesy_until = now + self._policy.courtesy_seconds
            else:
                held.idle_since = now
                self._free.append(held)
                self._slot_free.notify()
                if len(self._free) == 1:  # the manager may need to start a linger timer
                    self._manager_wakeup.notify()
                return
            self._manager_wakeup.notify()

    def _manage(self) -> None:
        with without_client_retries():
            while True:
                with self._lock:
                    work, sleep_for = self._plan(time.monotonic())
                    if work is None:
                        return
                    if not work:
                        self._manager_wakeup.wait(sleep_for)
                        continue
                try:
                    self._perform(work)
                except Exception:
                    # The API failed beyond its quick retries: leases not renewed lapse on the server, and
                    # waiting tasks are served on a later round. Never fatal, never over the limit.
                    logger.warning("slot pool %s: Prefect API call failed", self.name, exc_info=True)
                    with self._lock:
                        self._back_off(time.monotonic())

    def _plan(self, now: float) -> tuple[_Work | None, float]:
        """What the manager should do now, or how long it may sleep. Called with the lock held."""
        policy = self._policy
        release, self._to_release = self._to_release, []
        if self._waiting == 0:
            unused = [s for s in self._free if self._closing or now - s.idle_since >= policy.linger_seconds]
            for surplus in unused:
                self._free.remove(surplus)
                self._held.discard(surplus)
            release += unused
        renew = [s for s in self._held if now - s.renewed_at >= policy.renew_every_seconds]
        grow = (
            not self._closing
            and self._waiting > 0
            and now >= self._courtesy_until
            and now >= self._next_poll
        )
        work = _Work(release, renew, grow)
        if work:
            return work, 0.0
        if self._closing and not self._held:
            return None, 0.0
        wake_times = [s.renewed_at + policy.renew_every_seconds for s in self._held]
        if self._free and self._waiting == 0:
            wake_times.append(min(s.idle_since for s in self._free) + policy.linger_seconds)
        if self._waiting > 0 and not self._closing:
            wake_times.append(max(self._courtesy_until, self._next_poll))
        return work, max(0.0, min(wake_times, default=now + 1.0) - now)

    def _perform(self, work: _Work) -> None:
        for gone in work.release:
            self._api.release(gone.lease_id)
        for kept in work.renew:
            renewed = self._api.renew(kept.lease_id, self._policy.lease_seconds)
            with self._lock:
                if renewed:
                    kept.renewed_at = time.monotonic()
                else:
                    logger.warning("slot pool %s: lease %s lapsed before renewal", self.name, kept.lease_id)
                    self._forget(kept)
        if work.grow:
            self._grow()

    def _forget(self, lost: _Slot) -> None:
        lost.lost = True
        self._held.discard(lost)
        if lost in self._free:
            self._free.remove(lost)

    def _grow(self) -> None:
        state = self._api.read(self.name)
        with self._lock:
            wanted = self._waiting - len(self._free)
        available = wanted if not state.active else min(wanted, state.free_slots)
        leased = 0
        for _ in range(max(0, available)):
            lease_id = self._api.lease_slot(self.name, self._policy.lease_seconds)
            if lease_id is None:
                break
            leased += 1
            self._add(lease_id)
        with self._lock:
            if leased:
                self._poll_delay = self._policy.first_poll_seconds
                self._next_poll = 0.0
            else:
                self._back_off(time.monotonic())

    def _add(self, lease_id: UUID) -> None:
        now = time.monotonic()
        tenure = self._policy.tenure_seconds * random.uniform(0.5, 1.5)
        new = _Slot(lease_id=lease_id, acquired_at=now, renewed_at=now, tenure=tenure, idle_since=now)
        with self._lock:
            self._held.add(new)
            self._free.append(new)
            self._slot_free.notify()

    def _back_off(self, now: float) -> None:
        self._next_poll = now + self._poll_delay * random.uniform(0.8, 1.2)
        self._poll_delay = min(self._poll_delay * 1.5, self._policy.max_poll_seconds)

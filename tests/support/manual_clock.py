"""A clock that moves only when told to, for deterministic tests of the runtime's threads.

Threads wait on its conditions as on real ones; a timed wait returns once the clock is advanced past its
timeout (or when notified), never because real time went by. `settle(threads)` blocks, for a bounded real
time, until each of those threads still alive is parked in such a wait with nothing left to wake it: they
have done all they can at this time. `run_for(seconds, threads)` then moves time from one parked deadline to
the next, settling at each, as real time would wake the threads one after the other. A thread under test
must wait on nothing but this clock's conditions (or end), or it never counts as parked."""

import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SETTLE_SECONDS = 5.0  # real seconds: a test whose threads never settle fails instead of hanging
_POLL_SECONDS = 0.005


@dataclass(eq=False)
class _Waiter:
    condition: "_ManualCondition"
    deadline: float
    thread: int = field(default_factory=threading.get_ident)
    woken: bool = False
    notified: bool = False  # woken by a notify, not by its timeout


class _Timeline:
    """The time and the waiters that every view of one manual clock (see `skewed`) shares."""

    def __init__(self, monotonic: float) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # real time: for `settle` alone
        self.monotonic = monotonic
        self.waiters: list[_Waiter] = []
        self.notified: Counter[int] = Counter()  # waits a notify ended, by thread ident

    def park(self, condition: "_ManualCondition", timeout: float | None) -> _Waiter:
        with self.lock:
            deadline = math.inf if timeout is None else self.monotonic + timeout
            waiter = _Waiter(condition, deadline)
            self.waiters.append(waiter)
            self.changed.notify_all()
            return waiter

    def unpark(self, waiter: _Waiter) -> None:
        with self.lock:
            self.waiters.remove(waiter)
            self.changed.notify_all()

    def wake(self, condition: "_ManualCondition", count: int) -> bool:
        """Mark up to `count` of `condition`'s parked waiters, first come first, as notified."""
        with self.lock:
            woken = [w for w in self.waiters if w.condition is condition and not w.woken][:count]
            for waiter in woken:
                waiter.woken = waiter.notified = True
                self.notified[waiter.thread] += 1
            return bool(woken)


class _ManualCondition(threading.Condition):
    """A condition whose waits return when notified or when the manual clock passes their timeout.

    A waiter is marked woken (under the timeline's lock) before the real condition is notified (under this
    condition's lock, which the waiter holds from parking until it waits): no wake-up can be lost."""

    def __init__(self, lock: threading.Lock, timeline: _Timeline) -> None:
        super().__init__(lock)
        self._timeline = timeline

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout <= 0:
            return False
        waiter = self._timeline.park(self, timeout)
        try:
            while not waiter.woken:
                super().wait()
        finally:
            self._timeline.unpark(waiter)
        return waiter.notified

    def notify(self, n: int = 1) -> None:
        if self._timeline.wake(self, n):
            super().notify(sys.maxsize)  # those not marked go back to waiting

    def notify_all(self) -> None:
        self.notify(sys.maxsize)

    def wake_timed_out(self) -> None:
        with self:
            super().notify(sys.maxsize)


class _SluggishCondition(_ManualCondition):
    """A condition whose notified waits return `wake_seconds` late on the clock (see `ManualClock.sluggish`)."""

    def __init__(self, lock: threading.Lock, timeline: _Timeline, wake_seconds: float) -> None:
        super().__init__(lock, timeline)
        self._held = lock
        self._wake_seconds = wake_seconds

    def wait(self, timeout: float | None = None) -> bool:
        notified = super().wait(timeout)
        if notified:
            self._held.release()
            try:
                late = threading.Lock()
                with late:
                    _ManualCondition(late, self._timeline).wait(self._wake_seconds)
            finally:
                self._held.acquire()
        return notified


class ManualClock:
    def __init__(
        self,
        start: datetime = datetime(2030, 1, 1, tzinfo=UTC),
        *,
        monotonic: float = 1000.0,
        timeline: _Timeline | None = None,
        wake_seconds: float = 0.0,
    ) -> None:
        self._timeline = timeline or _Timeline(monotonic)
        self._origin = self._timeline.monotonic
        self._start = start
        self._wake_seconds = wake_seconds

    def monotonic(self) -> float:
        return self._timeline.monotonic

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._timeline.monotonic - self._origin)

    def condition(self, lock: threading.Lock) -> threading.Condition:
        if self._wake_seconds > 0:
            return _SluggishCondition(lock, self._timeline, self._wake_seconds)
        return _ManualCondition(lock, self._timeline)

    def notified_waits(self, thread: threading.Thread) -> int:
        """How many of `thread`'s waits on this clock a notify ended (not a timeout)."""
        with self._timeline.lock:
            return self._timeline.notified[thread.ident or 0]

    def sluggish(self, wake_seconds: float) -> "ManualClock":
        """This clock as a busy interpreter's threads see it: a thread notified out of a wait runs on only
        `wake_seconds` later (waiting for the GIL), the condition's lock free meanwhile."""
        start = self._start + timedelta(seconds=self._timeline.monotonic - self._origin)
        return ManualClock(start, timeline=self._timeline, wake_seconds=wake_seconds)

    def skewed(self, seconds: float) -> "ManualClock":
        """This clock as another machine sees it: the same intervals, a wall clock `seconds` ahead."""
        start = self._start + timedelta(seconds=seconds + self._timeline.monotonic - self._origin)
        return ManualClock(start, timeline=self._timeline)

    def advance(self, seconds: float) -> None:
        self.advance_to(self._timeline.monotonic + seconds)

    def advance_to(self, monotonic: float) -> None:
        """Move time forward to `monotonic`, waking the waits whose timeout it passes."""
        timeline = self._timeline
        with timeline.lock:
            if monotonic < timeline.monotonic:
                raise ValueError("a monotonic clock never goes back")
            timeline.monotonic = monotonic
            due = [w for w in timeline.waiters if not w.woken and w.deadline <= monotonic]
            for waiter in due:
                waiter.woken = True
            timeline.changed.notify_all()
        for condition in {id(w.condition): w.condition for w in due}.values():
            condition.wake_timed_out()

    def settle(self, threads: Collection[threading.Thread], seconds: float = SETTLE_SECONDS) -> None:
        """Block until each of `threads` that is alive is parked on this clock (waits, and nothing woke it):
        they have done all they can at this time. Raises TimeoutError after `seconds` of real time (a thread
        busy, or blocked on something other than this clock's conditions)."""
        timeline = self._timeline
        give_up_at = time.monotonic() + seconds

        def settled() -> bool:
            parked = {w.thread for w in timeline.waiters if not w.woken}
            return all(t.ident in parked or not t.is_alive() for t in threads)

        with timeline.lock:
            # Polled as well as woken: a thread's end notifies nobody.
            while not timeline.changed.wait_for(settled, _POLL_SECONDS):
                if time.monotonic() >= give_up_at:
                    busy = [t.name for t in threads if t.is_alive()]
                    raise TimeoutError(f"threads not parked on the manual clock: {busy}")

    def run_for(self, seconds: float, threads: Collection[threading.Thread]) -> None:
        """Let `seconds` pass the way real time would: to each parked deadline in turn, settling at each."""
        target = self._timeline.monotonic + seconds
        self.settle(threads)
        while True:
            with self._timeline.lock:
                next_due = min((w.deadline for w in self._timeline.waiters), default=math.inf)
            step_to = max(self._timeline.monotonic, min(target, next_due))
            self.advance_to(step_to)
            self.settle(threads)
            if step_to >= target:
                return

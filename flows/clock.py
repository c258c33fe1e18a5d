"""The time the runtime reads and waits on, injected so that its rare paths can be tested deterministically.

Every timed wait of the runtime is a wait on a `threading.Condition` (a manager thread waits for work or for
its next deadline, a task for a slot or a token), so the clock makes the conditions: a wait's timeout is then
measured on the same clock as everything else, and a fake clock (tests/support/manual_clock.py) knows who
waits, wakes them when it is advanced past their timeout, and can tell when every thread is parked.

Here rather than in flows/runtime: the demo ERP's gatekeeper takes a clock too, and its process must not
import Prefect (flows/runtime/__init__.py does)."""

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""
        ...

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware in UTC (compared with the Prefect server's timestamps)."""
        ...

    def condition(self, lock: threading.Lock) -> threading.Condition:
        """A condition on `lock` whose `wait(timeout)` counts `timeout` on this clock."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def condition(self, lock: threading.Lock) -> threading.Condition:
        return threading.Condition(lock)


SYSTEM_CLOCK: Clock = SystemClock()

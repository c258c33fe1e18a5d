"""What one flow run's runtime did, recorded as it happens and read once it is over (and every few seconds by
the events it sends): items, external calls, 429s, breaker openings, how long tasks waited for slots.

Recording is on every task's path, so it only appends or increments under one lock held for nanoseconds;
anything that costs more (sorting, percentiles) happens on a snapshot, off the tasks' path. Slot waits, the
one figure every task adds to, are kept by the slot pools and rate limiters themselves, under the lock they
hold anyway at that moment, and read from them (`SlotWaits`) when a snapshot is taken. Samples are kept in
`array("d")`: 8 bytes each, a million calls cost 8 MB."""

import math
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` 0.5 for p50) of `values`, sorted or not; None without values. A
    value that was observed, never an interpolation, so p50 <= p95 <= p99 always holds."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


# Samples of seconds. A string: `array` takes no type arguments at runtime before Python 3.12, so
# `Samples | None` must be quoted too.
Samples: TypeAlias = "array[float]"

# A copy of the seconds each task waited for a slot (or a rate token) of one limit; 0: one was free at once.
SlotWaits: TypeAlias = Callable[[], Samples]


class SecondsByName(dict[str, float]):
    """Seconds per name, 0 for a name not seen: a `Counter` of floats, which typeshed's `Counter` (ints only)
    cannot type."""

    def __missing__(self, key: str) -> float:
        return 0  # an int, as `Counter` gives


@dataclass
class _ItemCalls:
    retried: bool = False


class TargetPoint(NamedTuple):
    """An adaptive limit's target from `seconds` after the run's metrics started, and why it changed."""

    seconds: float
    target: int
    reason: str


# The item whose external calls are being made on this thread: tasks run in copies of the flow's context.
_current_item: ContextVar[_ItemCalls | None] = ContextVar("rpa_current_item", default=None)


@dataclass(frozen=True)
class MetricsSnapshot:
    items_done: int
    items_failed: int
    items_retried: int
    working_seconds: float
    attempt_seconds: dict[str, Samples] = field(default_factory=dict)  # per service
    throttled: Counter[str] = field(default_factory=Counter)  # 429s answered, per service
    retry_after_wait_seconds: SecondsByName = field(default_factory=SecondsByName)  # per service
    breaker_openings: Counter[str] = field(default_factory=Counter)  # per service
    breaker_closings: Counter[str] = field(default_factory=Counter)  # per service
    slot_waits: dict[str, Samples] = field(default_factory=dict)  # seconds per task, per limit; 0: no wait
    # Per service with an adaptive limit: its first target, then each change.
    adaptive_targets: dict[str, list[TargetPoint]] = field(default_factory=dict)

    @property
    def items_per_minute(self) -> float:
        return 60.0 * self.items_done / self.working_seconds if self.working_seconds > 0 else 0.0


class RunMetrics:
    """Thread-safe. Working time runs from its creation (the run's work starts) to `items_finished`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started_at = time.monotonic()
        self._finished_at: float | None = None
        self._items_done = 0
        self._items_failed = 0
        self._items_retried = 0
        self._attempt_seconds: defaultdict[str, Samples] = defaultdict(lambda: array("d"))
        self._throttled: Counter[str] = Counter()
        self._retry_after_wait = SecondsByName()
        self._breaker_openings: Counter[str] = Counter()
        self._breaker_closings: Counter[str] = Counter()
        self._slot_waits: dict[str, SlotWaits] = {}
        self._adaptive_targets: defaultdict[str, list[TargetPoint]] = defaultdict(list)

    @contextmanager
    def item(self) -> Iterator[None]:
        """The external calls of one item: the item counts as retried when one of them needed more than one
        attempt. Whether it is done or failed is the batch's outcome (`items_finished`): an item may fail
        before its calls, in a task upstream."""
        calls = _ItemCalls()
        token = _current_item.set(calls)
        try:
            yield
        finally:
            _current_item.reset(token)
            if calls.retried:
                with self._lock:
                    self._items_retried += 1

    def items_finished(self, done: int, failed: int) -> None:
        with self._lock:
            self._items_done += done
            self._items_failed += failed
            self._finished_at = time.monotonic()

    def attempt(self, service: str, seconds: float) -> None:
        """One attempt of an external call, from sending it to its answer (or its transport error)."""
        with self._lock:
            self._attempt_seconds[service].append(seconds)

    def throttled(self, service: str) -> None:
        with self._lock:
            self._throttled[service] += 1

    def retry_after_waited(self, service: str, seconds: float) -> None:
        with self._lock:
            self._retry_after_wait[service] += seconds

    def call_retried(self) -> None:
        """The call on this thread needed more than one attempt (counted once per item)."""
        item = _current_item.get()
        if item is not None:
            item.retried = True

    def breaker_opened(self, service: str) -> None:
        with self._lock:
            self._breaker_openings[service] += 1

    def breaker_closed(self, service: str) -> None:
        with self._lock:
            self._breaker_closings[service] += 1

    def adaptive_target(self, service: str, at: float, target: int, reason: str) -> None:
        """An adaptive limit's target became `target` at `at` (time.monotonic's clock); the first call gives
        its starting target."""
        with self._lock:
            point = TargetPoint(round(at - self._started_at, 3), target, reason)
            self._adaptive_targets[service].append(point)

    def slot_waits_of(self, limit: str, waits: SlotWaits) -> None:
        """Where this run's slot waits for `limit` are kept: read at each snapshot."""
        with self._lock:
            self._slot_waits[limit] = waits

    def snapshot(self) -> MetricsSnapshot:
        with self._lock:
            sources = dict(self._slot_waits)
        # Outside this lock: each source takes its own, which tasks hold while they record here.
        slot_waits = {limit: waits() for limit, waits in sources.items()}
        with self._lock:
            ended = self._finished_at if self._finished_at is not None else time.monotonic()
            return MetricsSnapshot(
                items_done=self._items_done,
                items_failed=self._items_failed,
                items_retried=self._items_retried,
                working_seconds=ended - self._started_at,
                attempt_seconds={name: array("d", s) for name, s in self._attempt_seconds.items()},
                throttled=Counter(self._throttled),
                retry_after_wait_seconds=SecondsByName(self._retry_after_wait),
                breaker_openings=Counter(self._breaker_openings),
                breaker_closings=Counter(self._breaker_closings),
                slot_waits=slot_waits,
                adaptive_targets={name: list(points) for name, points in self._adaptive_targets.items()},
            )

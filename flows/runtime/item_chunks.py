"""Items in chunks: one Prefect task per chunk of items, the items run on a plain thread pool of the flow
run's width, every item's outcome recorded.

A task run costs its flow process and, more, its server (three state events the task-run recorder writes to
its database): for short items that, not the limiter, is the floor of a flow mapping one task per item
(`make bench-engine`, docs/benchmarks.md). Here a chunk of items is one task run, and the items inside it
are plain function calls, each still guarded by the runtime (its slot, its rate token, its breaker) and
each with its outcome kept: in the chunk task's return value, in a table artifact of the chunk's task run,
and in what the flow records per item (the results database)."""

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from dataclasses import dataclass
from typing import Generic, TypeVar

from prefect.artifacts import create_table_artifact

T = TypeVar("T")
R = TypeVar("R")

_ERROR_CHARS = 300  # an artifact cell, not a traceback


@dataclass(frozen=True)
class ItemOutcome(Generic[R]):
    item: str
    started: float  # wall clock, time.time()
    finished: float
    result: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    return [list(items[first : first + size]) for first in range(0, len(items), size)]


class ItemPool:
    """A flow run's threads for item work, shared by its chunk tasks: the run's width bounds its calls in
    flight however many chunks run at once, and a chunk's items queue behind the previous chunk's, so the
    threads stay busy across chunk boundaries."""

    def __init__(self, width: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=width, thread_name_prefix="items")

    @classmethod
    @contextmanager
    def open(cls, width: int) -> Iterator["ItemPool"]:
        pool = cls(width)
        try:
            yield pool
        finally:
            pool.close()

    def run(
        self, work: Callable[[T], R], items: Sequence[T], key: Callable[[T], str] = str
    ) -> list[ItemOutcome[R]]:
        """Every item's outcome, in the items' order; an item's exception is its outcome, not the chunk's.
        Each item runs in a copy of the caller's context, as Prefect runs a task: what the flow set in context
        variables (the run's systems, its metrics) is there, and the chunk task's run context too."""
        futures: list[Future[ItemOutcome[R]]] = [
            self._executor.submit(copy_context().run, _outcome, work, item, key(item)) for item in items
        ]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _outcome(work: Callable[[T], R], item: T, key: str) -> ItemOutcome[R]:
    started = time.time()
    try:
        result = work(item)
    except Exception as error:  # the item failed, the chunk goes on: its outcome says why
        return ItemOutcome(key, started, time.time(), error=f"{type(error).__name__}: {error}"[:_ERROR_CHARS])
    return ItemOutcome(key, started, time.time(), result=result)


def publish_outcomes(outcomes: Sequence[ItemOutcome[R]], what: str) -> None:
    """A table artifact of the task run this is called in: one row per item (item, ok, ms, error)."""
    failed = sum(not outcome.ok for outcome in outcomes)
    rows = [
        {
            "item": outcome.item,
            "ok": outcome.ok,
            "ms": round((outcome.finished - outcome.started) * 1000, 1),
            "error": outcome.error or "",
        }
        for outcome in outcomes
    ]
    description = f"{what}: {len(outcomes) - failed} of {len(outcomes)} items done, {failed} failed"
    create_table_artifact(table=rows, description=description)

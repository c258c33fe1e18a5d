"""Items in chunks: every item's outcome kept, a failing item failing alone, the flow's context in the item
threads, the run's width bounding them."""

import threading
import time
from contextvars import ContextVar

import pytest

from flows.runtime.item_chunks import ItemPool, chunked

_current_run: ContextVar[str] = ContextVar("current_run", default="none")


def test_chunks_cover_every_item_in_order() -> None:
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="at least 1"):
        chunked([1], 0)


def test_each_item_has_its_outcome_and_a_failing_item_fails_alone() -> None:
    def work(item: int) -> str:
        if item == 2:
            raise ValueError("no such item")
        return f"{_current_run.get()}:{item}"

    _current_run.set("run-1")  # what a flow sets for its tasks: the items see it too
    with ItemPool.open(2) as pool:
        outcomes = pool.run(work, [1, 2, 3])
    assert [(o.item, o.ok, o.result, o.error) for o in outcomes] == [
        ("1", True, "run-1:1", None),
        ("2", False, None, "ValueError: no such item"),
        ("3", True, "run-1:3", None),
    ]
    assert all(o.started <= o.finished for o in outcomes)


def test_the_width_bounds_items_in_flight_across_chunks() -> None:
    in_flight, highest, lock = 0, 0, threading.Lock()

    def work(item: int) -> int:
        nonlocal in_flight, highest
        with lock:
            in_flight += 1
            highest = max(highest, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return item

    with ItemPool.open(3) as pool:
        chunks = [threading.Thread(target=pool.run, args=(work, list(range(10)))) for _ in range(4)]
        for chunk in chunks:
            chunk.start()
        for chunk in chunks:
            chunk.join(30)
    assert highest == 3

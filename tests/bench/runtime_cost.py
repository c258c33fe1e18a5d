"""What the runtime costs a task once its slots are held: `python -m tests.bench.runtime_cost STACK`.

Prints JSON: microseconds per slot taken and handed back, by one thread and by ten threads contending, and
the baseline measured beside them: a `threading.BoundedSemaphore` of the limit taken and given back by the
same threads, the least a slot shared by threads costs in CPython. Also how many of the ten threads' takes
found no slot free and waited: the pool gives back what its tasks leave unused for `linger_seconds`, and
ten threads that each hold a slot for no time under one GIL use two or three, so a thread preempted while
it holds one makes others wait on the pool's condition; those waits, not the hand-outs, are what a slow
round of this benchmark costs."""

import json
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from flows.runtime import Deadline, FlowRuntime, RunSettings
from tests.bench.guards import ERP

ROUNDS = 20_000


def _per_slot_microseconds(slot: Callable[[], AbstractContextManager[object]], threads: int) -> float:
    def spin() -> None:
        for _ in range(ROUNDS // threads):
            with slot():
                pass

    workers = [threading.Thread(target=spin) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - started) / ROUNDS * 1e6


def _waited(runtime: FlowRuntime) -> int:
    """Takes of an ERP slot so far that found none free."""
    waits = runtime.metrics.snapshot().slot_waits[runtime.limit_name(ERP)]
    return sum(1 for seconds in waits if seconds > 0)


def main() -> None:
    settings = RunSettings(
        flow="bench",
        stack=sys.argv[1],
        environment="development",
        max_concurrent_tasks=10,
        timeout_seconds=600,
    )
    with FlowRuntime.open(settings, concurrency=[ERP]) as runtime:
        pool, deadline = runtime.slots(ERP), Deadline.after(600)

        def slot() -> AbstractContextManager[object]:
            return pool.slot(deadline)

        _per_slot_microseconds(slot, 10)  # warm up: lease the slots once
        calls_before = runtime.api.calls
        one = _per_slot_microseconds(slot, 1)
        waited_before = _waited(runtime)
        ten = _per_slot_microseconds(slot, 10)
        ten_waited = _waited(runtime) - waited_before
        calls = runtime.api.calls - calls_before
    semaphore = threading.BoundedSemaphore(settings.max_concurrent_tasks)
    baseline_one = _per_slot_microseconds(lambda: semaphore, 1)
    baseline_ten = _per_slot_microseconds(lambda: semaphore, 10)
    cost = {"one_thread_us": one, "ten_threads_us": ten, "server_calls": calls, "rounds": 2 * ROUNDS}
    cost |= {"ten_threads_takes_that_waited": ten_waited}
    cost |= {"semaphore_one_thread_us": baseline_one, "semaphore_ten_threads_us": baseline_ten}
    cost |= {"ten_threads_over_semaphore": ten / baseline_ten}
    print(json.dumps(cost))


if __name__ == "__main__":
    main()

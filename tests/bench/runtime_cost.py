"""What the runtime costs a task once its slots are held: `python -m tests.bench.runtime_cost STACK`.

Prints JSON: microseconds per slot taken and handed back, by one thread and by ten threads contending."""

import json
import sys
import threading
import time

from flows.runtime import Deadline, FlowRuntime, RunSettings
from tests.bench.guards import ERP

ROUNDS = 20_000


def _per_slot_microseconds(runtime: FlowRuntime, threads: int) -> float:
    pool = runtime.slots(ERP)
    deadline = Deadline.after(600)

    def spin() -> None:
        for _ in range(ROUNDS // threads):
            with pool.slot(deadline):
                pass

    workers = [threading.Thread(target=spin) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - started) / ROUNDS * 1e6


def main() -> None:
    settings = RunSettings(
        flow="bench",
        stack=sys.argv[1],
        environment="development",
        max_concurrent_tasks=10,
        timeout_seconds=600,
    )
    with FlowRuntime.open(settings, concurrency=[ERP]) as runtime:
        _per_slot_microseconds(runtime, 10)  # warm up: lease the slots once
        calls_before = runtime.api.calls
        one = _per_slot_microseconds(runtime, 1)
        ten = _per_slot_microseconds(runtime, 10)
        calls = runtime.api.calls - calls_before
    print(
        json.dumps({"one_thread_us": one, "ten_threads_us": ten, "server_calls": calls, "rounds": 2 * ROUNDS})
    )


if __name__ == "__main__":
    main()

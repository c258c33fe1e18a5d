"""Two flow runs' slot pools on one full limit (two runtimes with their own clients, as two processes have):
the one that arrives second gets slots while the first still wants them all, the first is not starved in
turn, and together they never exceed the limit."""

import threading
import time
from collections import Counter
from collections.abc import Callable

from flows.runtime import Deadline, FlowRuntime

LIMIT = 4
HOLD_SECONDS = 0.02
# A bound on a hang (each wait takes about a second on a quiet machine): progress is asserted, not its speed.
PROGRESS_BOUND_SECONDS = 300


class Gauge:
    """Slots held at once across both pools, counted inside the guarded section."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = self.highest = 0

    def __enter__(self) -> None:
        with self._lock:
            self.current += 1
            self.highest = max(self.highest, self.current)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.current -= 1


def test_a_second_flow_run_gets_its_turn_on_a_full_limit(new_stack):
    stack = new_stack(erp_api=LIMIT)
    gauge, holds, stop = Gauge(), Counter[str](), threading.Event()

    def work(runtime: FlowRuntime, name: str) -> None:
        pool = runtime.slots("erp-api")
        while not stop.is_set():
            with pool.slot(Deadline.after(60)), gauge:
                time.sleep(HOLD_SECONDS)
            holds[name] += 1

    with (
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as first,
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as second,
    ):
        workers = [threading.Thread(target=work, args=(first, "first")) for _ in range(LIMIT)]
        late = [threading.Thread(target=work, args=(second, "second")) for _ in range(LIMIT)]
        try:
            for worker in workers:
                worker.start()
            _wait_until(lambda: stack.active_slots("erp-api") == LIMIT)  # the first holds the whole limit

            for worker in late:
                worker.start()
            _wait_until(lambda: holds["second"] >= 20)
            first_so_far = holds["first"]
            _wait_until(lambda: holds["first"] >= first_so_far + 20)
        finally:  # also when a wait fails: threads left looping would keep the test process alive
            stop.set()
            for worker in workers + late:
                if worker.is_alive():
                    worker.join()

    assert gauge.highest <= LIMIT
    assert stack.active_slots("erp-api") == 0


def _wait_until(condition: Callable[[], bool], seconds: float = PROGRESS_BOUND_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no progress within {seconds:g} s"
        time.sleep(0.05)

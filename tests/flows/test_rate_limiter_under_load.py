"""A busy machine wakes waiting tasks late, and a token not spent within its age is thrown away. Every task
must still get a token: a dropped token is asked for again at once (no stall until the deadline)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from flows.runtime import Deadline, FlowRuntime, SlotWaitTimeout

BUSY_THREADS = 8
WAITERS = 4
REQUESTS = 40
PER_SECOND = 20.0
DEADLINE_SECONDS = 60  # 40 tokens at 20/s take 2 s; a stalled wait lasts until here


def test_tasks_woken_late_still_get_their_tokens(new_stack):
    stack = new_stack(erp_api_rate=(10, PER_SECOND))
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    busy = [threading.Thread(target=spin, daemon=True) for _ in range(BUSY_THREADS)]
    with FlowRuntime.open(stack.settings(), concurrency=[], rates=["erp-api-rate"]) as runtime:
        rate = runtime.rate("erp-api-rate")

        def take(_: int) -> str:
            try:
                rate.wait_for_token(Deadline.after(DEADLINE_SECONDS))
            except SlotWaitTimeout:
                return "timed out"
            return "token"

        for thread in busy:
            thread.start()
        try:
            with ThreadPoolExecutor(WAITERS) as waiters:
                outcomes = list(waiters.map(take, range(REQUESTS)))
        finally:
            stop.set()
            for thread in busy:
                thread.join()

    assert outcomes.count("timed out") == 0

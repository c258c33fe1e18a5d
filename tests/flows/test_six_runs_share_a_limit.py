"""Six rpa3 flow runs started together on one concurrency limit share it. They are held at the limit (0
slots) until all six are asking, so that process start-up on a busy machine does not decide who goes first;
then the limit opens. Every run gets its turn before any run is done, and they progress alike: when the first
run is done, every other one has done at least half its work. Calls are measured at the ERP, per flow run;
the limit is never exceeded.

Fairness is asserted in work done, not in seconds: how long a run waits for its first slot or how far apart
the runs finish in time depends on how busy the machine is (two CPU hogs stretch both), the share of the work
each run got by a given moment does not."""

import threading
import time

import pytest

from tests.flows.stack import finish_all, set_flow_variables
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.stats import ErpStats

RUNS = 6
ITEMS = 20
CALLS = ITEMS + 1  # each run lists its items once, then one call per item
SLOTS = 4
LATENCY_SECONDS = 1.0
ALIKE_SHARE = 0.5  # of its calls, every run has made when the first is done (shared alike: about 0.8)


@pytest.mark.slow  # 6 x 20 calls of 1 s through 4 slots: 30 s at least
def test_six_flow_runs_get_their_turn_and_progress_alike(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=LATENCY_SECONDS))
    stack = new_stack(erp_api=0, erp_api_rate=(100, 100.0), db_write=1)  # only erp-api binds
    set_flow_variables("rpa3", max_concurrent_tasks=SLOTS, timeout_seconds=300)
    since = time.time()
    runs = [
        stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=F{run}") for run in range(RUNS)
    ]

    stack.open_when_all_asking(runs, "erp-api", SLOTS, since)
    with FirstDone(admin) as first_done:
        outcomes = finish_all(runs)

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    assert stats.highest_concurrency <= SLOTS
    assert len(stats.callers) == RUNS
    assert all(caller.accepted == CALLS for caller in stats.callers.values())
    first_calls = [caller.first_arrival for caller in stats.callers.values()]
    done = [caller.last_completion or 0.0 for caller in stats.callers.values()]
    assert max(first_calls) < min(done), "a run was done before every run had its first call"
    assert first_done.at is not None, "no run was seen done"
    shares = sorted(caller.accepted / CALLS for caller in first_done.at.callers.values())
    print(f"shares of the work done when the first run was done: {', '.join(f'{s:.2f}' for s in shares)}")
    assert len(shares) == RUNS and shares[0] >= ALIKE_SHARE
    assert stack.active_slots("erp-api") == 0


class FirstDone:
    """The ERP's stats at the first moment (sampled every 0.2 s) when some run had made all its calls."""

    def __init__(self, admin: DemoErpAdmin) -> None:
        self._admin = admin
        self.at: ErpStats | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "FirstDone":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            stats = self._admin.stats()
            if any(caller.accepted >= CALLS for caller in stats.callers.values()):
                self.at = stats
                return

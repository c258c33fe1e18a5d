"""Six rpa3 flow runs started together on one concurrency limit share it. They are held at the limit (0
slots) until all six are asking, so that process start-up on a busy machine does not decide who goes first;
then the limit opens. Each run makes its first call to the ERP within 5 s, and they finish about together:
from the opening to each one's last call, within 1.3x of each other. Calls are measured at the ERP, per flow
run; the limit is never exceeded."""

import time

from flows.demo_erp.behaviour import ErpBehaviour
from tests.flows.stack import finish, set_flow_variables

RUNS = 6
ITEMS = 20
SLOTS = 4
LATENCY_SECONDS = 1.0
FIRST_CALL_BOUND_SECONDS = 5.0
SPREAD_BOUND = 1.3


def test_six_flow_runs_get_their_turn_and_finish_alike(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=LATENCY_SECONDS))
    stack = new_stack(erp_api=0, erp_api_rate=(100, 100.0), db_write=1)  # only erp-api binds
    set_flow_variables("rpa3", max_concurrent_tasks=SLOTS, timeout_seconds=300)
    since = time.time()
    runs = [
        stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=F{run}") for run in range(RUNS)
    ]

    stack.open_when_all_asking(runs, "erp-api", SLOTS, since)
    opened = time.time()
    outcomes = [finish(run, timeout=600) for run in runs]

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    assert stats.highest_concurrency <= SLOTS
    assert len(stats.callers) == RUNS
    first_calls = [caller.first_arrival - opened for caller in stats.callers.values()]
    done = [caller.last_completion - opened for caller in stats.callers.values() if caller.last_completion]
    spread = max(done) / min(done)
    print(
        f"first calls {_seconds(first_calls)} and done {_seconds(done)} after the opening (spread {spread:.2f}x)"
    )
    assert max(first_calls) <= FIRST_CALL_BOUND_SECONDS
    assert len(done) == RUNS and spread <= SPREAD_BOUND
    assert stack.active_slots("erp-api") == 0


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in sorted(values)) + " s"

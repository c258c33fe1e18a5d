"""Under load bound by the rate, a task waiting for a rate token holds no concurrency slot: the slots the
server counts as held are the calls in flight at the ERP (at least 0.8 of them, on average), not tasks
queueing for the rate. Neither limit is exceeded on the way."""

from tests.flows.held_slots import HeldSlotsSampler
from tests.flows.stack import finish_all, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

RUNS = 2
ITEMS = 24
LATENCY_SECONDS = 4.0  # RPA-like calls: the few hundred ms around each (token write, reuse) weigh little
BURST, PER_SECOND = 4, 3.0  # 12 calls in flight at most: the rate binds, not the 24 slots
SLOTS = 24
WIDTH = 12  # 2 runs x 12 tasks: all 24 slots would be held by tasks queueing for the rate


def test_slots_held_are_calls_in_flight_when_the_rate_binds(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(
        ErpBehaviour(latency_seconds=LATENCY_SECONDS, rate_per_second=PER_SECOND, rate_burst=BURST)
    )
    stack = new_stack(erp_api=SLOTS, erp_api_rate=(BURST, PER_SECOND), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=WIDTH, timeout_seconds=300)

    with HeldSlotsSampler(stack.limit_name("erp-api")) as held:
        runs = [
            stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=H{run}")
            for run in range(RUNS)
        ]
        outcomes = finish_all(runs)

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    assert stats.first_arrival is not None and stats.last_completion is not None
    in_flight = stats.mean_concurrency()
    held_slots = held.mean_between(stats.first_arrival, stats.last_completion)
    print(
        f"mean in flight {in_flight:.2f}, mean slots held {held_slots:.2f}, ratio {in_flight / held_slots:.2f}"
    )
    assert in_flight >= 0.8 * held_slots
    assert stats.highest_concurrency <= SLOTS
    assert stats.rejected_for_rate == 0
    assert stats.accepted == RUNS * (ITEMS + 1)

"""The Prefect server is SIGKILLed in the middle of six rpa3 flow runs sharing the stack's limits, and
restarted on the same port and home. With its leases on disk (as every server this project starts keeps
them) nothing is lost: the runs complete, the ERP, which enforces the same limits, never sees them exceeded,
and no slot is left held afterwards."""

import time

import pytest

from tests.flows.stack import fail_if_any_ended, fail_killing, finish_all, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

RUNS = 6
ITEMS = 30
SLOTS = 4
BURST, PER_SECOND = 4, 8.0
LATENCY_SECONDS = 0.5
UNDER_WAY_BOUND_SECONDS = 300  # a bound on a hang: under way within seconds of the opening on a quiet machine


@pytest.mark.slow
def test_a_server_killed_mid_load_and_restarted_loses_no_slot(own_server, new_stack, demo_erp):
    server = own_server()
    admin, erp_url = demo_erp
    admin.configure(
        ErpBehaviour(
            latency_seconds=LATENCY_SECONDS,
            max_concurrency=SLOTS,
            rate_per_second=PER_SECOND,
            rate_burst=BURST,
        )
    )
    stack = new_stack(erp_api=0, erp_api_rate=(BURST, PER_SECOND), db_write=1)  # opened once all ask
    set_flow_variables("rpa3", max_concurrent_tasks=SLOTS, timeout_seconds=300)  # outlasts the outage
    since = time.time()
    runs = [
        stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=S{run}") for run in range(RUNS)
    ]

    stack.open_when_all_asking(runs, "erp-api", SLOTS, since)

    # Mid-load: every run at work (has called the ERP) and slots held, so that leases are live at the kill.
    # Under rate-bound load only the calls in flight hold slots, so the limit is seldom full: wait for any.
    # (A run still creating its subflow when the server goes down fails: Prefect's client does not retry a
    # first connection; every run is past that once it asks for a slot.)
    deadline = time.monotonic() + UNDER_WAY_BOUND_SECONDS
    while len(admin.stats().callers) < RUNS or stack.active_slots("erp-api") == 0:
        fail_if_any_ended(runs, "before the load was under way")
        if time.monotonic() > deadline:
            fail_killing(
                runs, f"the load was not under way within {UNDER_WAY_BOUND_SECONDS} s of the opening"
            )
        time.sleep(0.05)
    held_at_kill = stack.active_slots("erp-api")
    killed_at = time.monotonic()
    server.kill()
    server.start()
    down_seconds = time.monotonic() - killed_at
    outcomes = finish_all(runs)

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    violations = stats.rejected_for_concurrency + stats.rejected_for_rate
    leaked = stack.active_slots("erp-api") + stack.active_slots("db-write")
    print(
        f"{held_at_kill} slots held at the kill, server down {down_seconds:.1f} s, ERP calls paused {stats.longest_pause_seconds:.1f} s, "
        f"{violations} violations, {leaked} slots leaked"
    )
    assert violations == 0
    assert stats.highest_concurrency <= SLOTS
    assert stats.accepted == RUNS * (ITEMS + 1)
    assert leaked == 0
    assert stack.query("select count(*) from reconciliations") == [(RUNS * ITEMS,)]

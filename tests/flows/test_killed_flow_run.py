"""A flow-run process killed with SIGKILL cannot give its slots back. Its leases lapse once they go unrenewed
for the silence the project's lease storage allows (12 s, local_prefect_server/lease_files.py), before the
60 s the API makes them last; then other runs proceed."""

import json
import time
from pathlib import Path

import pytest

from flows.runtime.slot_pool import SlotPolicy
from tests.flows.stack import fail_if_any_ended, fail_killing, finish, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

LIMIT = 2
LEASE_SECONDS = SlotPolicy().lease_seconds
# A bound on a hang, not on speed: holding the limit takes a few seconds on a quiet machine.
HOLDING_BOUND_SECONDS = 300


@pytest.mark.slow
def test_slots_of_a_killed_flow_run_come_back(new_stack, demo_erp, prefect_server):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.5))
    stack = new_stack(erp_api=LIMIT, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=LIMIT, timeout_seconds=300)

    doomed = stack.start_flow_run("rpa3", erp_url, "--items=100", "--batch=K1")
    deadline = time.monotonic() + HOLDING_BOUND_SECONDS
    while stack.active_slots("erp-api") < LIMIT or not leases_renew_often(prefect_server.home):
        fail_if_any_ended([doomed], "before it held the limit")
        if time.monotonic() > deadline:
            fail_killing([doomed], f"the flow run did not hold the limit within {HOLDING_BOUND_SECONDS} s")
        time.sleep(0.2)
    doomed.kill()  # SIGKILL: nothing is given back
    killed_at = time.monotonic()

    # The mechanism, not a speed: back before any lease of 60 s could have run out, so the silence rule did it.
    while stack.active_slots("erp-api") > 0:
        assert time.monotonic() - killed_at < LEASE_SECONDS, f"the slots were still held {LEASE_SECONDS} s on"
        time.sleep(0.2)
    print(f"slots back {time.monotonic() - killed_at:.1f} s after the kill")
    admin.configure(ErpBehaviour(latency_seconds=0.01))
    code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=4", "--batch=K2"))
    assert code == 0, output


def leases_renew_often(server_home: Path) -> bool:
    """Whether the server has seen every lease's holder renew (the run renews its first lease at once): only
    then is the silence rule, not the lease's 60 s, what frees them."""
    records = [json.loads(path.read_text()) for path in (server_home / "concurrency_leases").glob("*-*.json")]
    return bool(records) and all(record["renews_often"] for record in records)

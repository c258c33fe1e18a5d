"""A flow-run process killed with SIGKILL cannot give its slots back; its leases lapse and Prefect reclaims
them (lease 60 s, the server's minimum, plus its 15 s repossessor loop), after which other runs proceed."""

import time

from flows.demo_erp.behaviour import ErpBehaviour
from tests.flows.stack import finish, set_flow_variables

LIMIT = 2
LEASE_AND_REPOSSESSION_SECONDS = 60 + 15


def test_slots_of_a_killed_flow_run_come_back(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.5))
    stack = new_stack(erp_api=LIMIT, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=LIMIT, timeout_seconds=300)

    doomed = stack.start_flow_run("rpa3", erp_url, "--items=100", "--batch=K1")
    deadline = time.monotonic() + 60
    while stack.active_slots("erp-api") < LIMIT:
        assert doomed.poll() is None and time.monotonic() < deadline, "the flow run never held the limit"
        time.sleep(0.2)
    doomed.kill()
    doomed.communicate()
    killed_at = time.monotonic()

    while stack.active_slots("erp-api") > 0:
        assert time.monotonic() - killed_at < LEASE_AND_REPOSSESSION_SECONDS + 30, "slots never came back"
        time.sleep(1)

    admin.configure(ErpBehaviour(latency_seconds=0.01))
    code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=4", "--batch=K2"))
    assert code == 0, output

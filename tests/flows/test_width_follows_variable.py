"""The task runner's width is the stack's Variable at run time: changing it changes the next run, no redeploy.
Each run has calls enough (a second each) for its slots to ramp up to the width on a busy machine."""

from flows.demo_erp.behaviour import ErpBehaviour
from tests.flows.stack import finish, set_flow_variables


def test_the_next_flow_run_uses_the_changed_variable(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=1.0))
    stack = new_stack(erp_api=10, erp_api_rate=(100, 100.0), db_write=1)  # limits that never bind here

    seen = []
    for width in (2, 4):
        set_flow_variables("rpa3", max_concurrent_tasks=width, timeout_seconds=60)
        admin.reset()
        code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=16", f"--batch=W{width}"))
        assert code == 0, output
        seen.append(admin.stats().highest_concurrency)

    assert seen == [2, 4]

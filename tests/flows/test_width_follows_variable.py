"""The task runner's width is the stack's Variable at run time: changing it changes the next run, no redeploy.
Each run reports its width in its metrics table; at the ERP, the calls in flight never exceed it, and the
wider run has more in flight at once than the narrower one could (calls of a second each, so that its slots
ramp up beyond the old width on any machine; reaching the full width exactly is not asserted: on a busy
machine the last task may start as the first ones end)."""

from datetime import UTC, datetime

from flows.runtime import metrics_artifact as table
from tests.flows.run_records import metrics_of
from tests.flows.stack import finish, flow_runs_since, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

NARROW, WIDE = 2, 4


def test_the_next_flow_run_uses_the_changed_variable(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=1.0))
    stack = new_stack(erp_api=10, erp_api_rate=(100, 100.0), db_write=1)  # limits that never bind here

    widths, in_flight = [], []
    for width in (NARROW, WIDE):
        set_flow_variables("rpa3", max_concurrent_tasks=width, timeout_seconds=60)
        admin.reset()
        started = datetime.now(UTC)
        code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=16", f"--batch=W{width}"))
        assert code == 0, output
        [run] = flow_runs_since("rpa3", started)
        widths.append(metrics_of(run.id)[(table.WIDTH, "")])
        in_flight.append(admin.stats().highest_concurrency)

    assert widths == [NARROW, WIDE]
    assert in_flight[0] <= NARROW < in_flight[1] <= WIDE, in_flight

"""Cancelling a flow run is its worker stopping the run's container or process with SIGTERM: an RPA flow run
stops within seconds even while its tasks wait for a full limit (closing its runtime releases them), and it
leaves no slot behind, so its deployment's run reaches Cancelled and gives its slot back."""

import signal
import time

from flows.runtime import Deadline, FlowRuntime
from tests.flows.stack import fail_if_any_ended, finish, set_flow_variables, task_runs_started

STOP_BOUND_SECONDS = 60  # Docker's own stop timeout is 10 s; this only has to be finite


def test_a_flow_run_waiting_for_slots_stops_on_sigterm_and_leaves_no_slot(new_stack):
    stack = new_stack(erp_api=1, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=2, timeout_seconds=300)
    since = time.time()
    with (
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as outside,
        outside.slots("erp-api").slot(Deadline.after(600)),  # the only slot: the run's tasks wait
    ):
        run = stack.start_flow_run("rpa3", "http://127.0.0.1:9", "--items=3")  # never reached
        deadline = time.monotonic() + 120
        while not task_runs_started("fetch_open_items", since):
            fail_if_any_ended([run], "before starting its task")
            assert time.monotonic() < deadline, "the flow run never started its task"
            time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        code, output = finish(run, timeout=STOP_BOUND_SECONDS)
        assert code != 0 and "termination signal" in output
        assert stack.active_slots("erp-api") == 1  # the outside holder's, nothing of the stopped run's
    assert stack.active_slots("erp-api") == 0
    assert stack.active_slots("db-write") == 0

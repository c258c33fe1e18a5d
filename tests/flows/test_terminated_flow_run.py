"""Cancelling a flow run is its worker stopping the run's container or process with SIGTERM: an RPA flow run
stops within seconds even while its tasks wait for a full limit (closing its runtime releases them), and it
leaves no slot behind, so its deployment's run reaches Cancelled and gives its slot back."""

import signal
import time

from flows.runtime import Deadline, FlowRuntime
from tests.flows.stack import fail_if_any_ended, fail_killing, finish, set_flow_variables, task_runs_started

# Bounds on hangs, not on speed. Stopping takes a second or two on a quiet machine (Docker's own stop timeout
# is 10 s); the test shows that it stops, and a run that does not is killed and shown.
STOP_BOUND_SECONDS = 120
TASK_STARTED_BOUND_SECONDS = 300  # about 5 s on a quiet machine


def test_a_flow_run_waiting_for_slots_stops_on_sigterm_and_leaves_no_slot(new_stack):
    stack = new_stack(erp_api=1, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=2, timeout_seconds=300)
    since = time.time()
    with (
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as outside,
        outside.slots("erp-api").slot(Deadline.after(600)),  # the only slot: the run's tasks wait
    ):
        run = stack.start_flow_run("rpa3", "http://127.0.0.1:9", "--items=3")  # never reached
        deadline = time.monotonic() + TASK_STARTED_BOUND_SECONDS
        while not task_runs_started("fetch_open_items", since):
            fail_if_any_ended([run], "before starting its task")
            if time.monotonic() > deadline:
                fail_killing(
                    [run], f"the flow run did not start its task within {TASK_STARTED_BOUND_SECONDS} s"
                )
            time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        code, output = finish(run, timeout=STOP_BOUND_SECONDS)
        assert code != 0 and "termination signal" in output
        assert stack.active_slots("erp-api") == 1  # the outside holder's, nothing of the stopped run's
    assert stack.active_slots("erp-api") == 0
    assert stack.active_slots("db-write") == 0

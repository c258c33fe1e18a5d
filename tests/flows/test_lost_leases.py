"""On a Prefect server that keeps its leases in memory (Prefect's default; not the servers this project
starts), a restart loses the leases but not the slot count. The slots held then are detected and reported
with the command that frees them: by the flow run whose leases were lost, for certain, and to a flow run that
held none (in the error its calls fail with), as a limit full with nothing taken or given back; the command
frees them."""

import logging
import os
import sys
import time
from contextlib import ExitStack

import pytest

from flows.runtime import Deadline, FlowRuntime, SlotWaitTimeout
from flows.runtime.unheld_slots import MEMORY_LEASES
from rpa_naming.operator_commands import free_slots_command
from tests.flows.stack import finish, set_flow_variables
from tests.support.bounded_process import run_bounded

SLOTS = 2
# The holder finds out at its next renewal, every 20 s (plus a server restart, 5-15 s): a bound on a hang.
REPORTED_BOUND_SECONDS = 300
# A task diagnoses a full limit nobody touches once it has seen it so for half its deadline: deadlines long
# enough that a late first read of the limit on a loaded machine still leaves that half.
DIAGNOSIS_DEADLINE_SECONDS = 30


@pytest.mark.slow  # a renewal must come round (20 s) and two tasks wait out their deadlines
def test_slots_a_restart_left_with_no_lease_are_reported_and_freed(own_server, new_stack, demo_erp, caplog):
    server = own_server(lease_storage=MEMORY_LEASES)
    stack = new_stack(erp_api=SLOTS, erp_api_rate=(100, 100.0), db_write=1)
    limit = stack.limit_name("erp-api")
    command = free_slots_command(limit, SLOTS)
    caplog.set_level(logging.ERROR, logger="flows.runtime.slot_pool")

    with FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as holder:
        slots = holder.slots("erp-api")
        with ExitStack() as held:
            for _ in range(SLOTS):
                held.enter_context(slots.slot(Deadline.after(30)))
            server.kill()
            server.start()  # the leases are gone, the count is not
            deadline = time.monotonic() + REPORTED_BOUND_SECONDS
            while command not in caplog.text:
                assert time.monotonic() < deadline, (
                    f"the lost leases not reported within {REPORTED_BOUND_SECONDS} s"
                )
                time.sleep(0.5)
        assert stack.active_slots("erp-api") == SLOTS  # given back here, still counted there
        with (
            pytest.raises(SlotWaitTimeout, match="forgot this flow run's leases") as certain,
            slots.slot(Deadline.after(3)),
        ):
            pass
        assert command in str(certain.value)

    with (
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as newcomer,
        pytest.raises(SlotWaitTimeout, match="keeps its leases in memory") as suspected,
        newcomer.slots("erp-api").slot(Deadline.after(DIAGNOSIS_DEADLINE_SECONDS)),
    ):
        pass
    assert command in str(suspected.value)
    admin, erp_url = demo_erp
    set_flow_variables("rpa3", max_concurrent_tasks=2, timeout_seconds=DIAGNOSIS_DEADLINE_SECONDS)
    code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=2"))
    assert code != 0 and "keeps its leases in memory" in output and command in output
    assert admin.stats().arrivals == 0

    freed = run_bounded(  # pointed at this test's server
        [sys.executable, "-m", "operations.free_slots", limit, str(SLOTS)], timeout=120, env=dict(os.environ)
    )
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert stack.active_slots("erp-api") == 0
    with (
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as later,
        later.slots("erp-api").slot(Deadline.after(30)),
    ):
        pass

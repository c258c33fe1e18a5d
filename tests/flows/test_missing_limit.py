"""A limit the stack did not provision is an error before any work starts, never "unlimited"; one that
disappears or changes kind under a running flow fails the tasks waiting for it, never lets them through."""

from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.client.schemas.objects import StateType

from flows.runtime import Deadline, FlowRuntime, MissingConcurrencyLimitError, NotARateLimitError
from tests.flows.stack import finish, flow_runs_since, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour


def test_opening_a_runtime_on_a_missing_limit_fails(new_stack):
    stack = new_stack(erp_api=2)
    with (
        pytest.raises(MissingConcurrencyLimitError, match=stack.limit_name("db-write")),
        FlowRuntime.open(stack.settings(), concurrency=["erp-api", "db-write"]),
    ):
        pass


def test_a_limit_without_decay_is_not_a_rate_limit(new_stack):
    stack = new_stack(erp_api=2, erp_api_rate=5)
    with (
        pytest.raises(NotARateLimitError, match=stack.limit_name("erp-api-rate")),
        FlowRuntime.open(stack.settings(), concurrency=["erp-api"], rates=["erp-api-rate"]),
    ):
        pass


def test_a_flow_run_on_a_stack_without_its_limits_fails_and_calls_nothing(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.01))
    stack = new_stack(erp_api=2, db_write=1)  # no erp-api-rate
    set_flow_variables("rpa3", max_concurrent_tasks=2, timeout_seconds=30)
    started = datetime.now(UTC)

    code, output = finish(stack.start_flow_run("rpa3", erp_url, "--items=3"))

    assert code != 0
    assert stack.limit_name("erp-api-rate") in output
    assert admin.stats().arrivals == 0
    [run] = flow_runs_since("rpa3-reconcile-batch", started)
    assert run.state_type is StateType.FAILED


def test_a_limit_deleted_under_a_running_flow_fails_its_waiting_tasks(new_stack):
    stack = new_stack(erp_api=1)
    with FlowRuntime.open(stack.settings(), concurrency=["erp-api"]) as runtime:
        slots = runtime.slots("erp-api")
        with slots.slot(Deadline.after(30)):  # the only slot: the next task must wait for the server
            with get_client(sync_client=True) as client:
                client.delete_global_concurrency_limit_by_name(stack.limit_name("erp-api"))
            # The error itself, not a SlotWaitTimeout after 30 s.
            with (
                pytest.raises(MissingConcurrencyLimitError, match=stack.limit_name("erp-api")),
                slots.slot(Deadline.after(30)),
            ):
                pass


def test_a_rate_limit_losing_its_decay_under_a_running_flow_fails_its_waiting_tasks(new_stack):
    stack = new_stack(erp_api=2, erp_api_rate=(5, 5.0))
    with FlowRuntime.open(stack.settings(), concurrency=["erp-api"], rates=["erp-api-rate"]) as runtime:
        rate = runtime.rate("erp-api-rate")
        rate.wait_for_token(Deadline.after(30))
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(
                stack.limit_name("erp-api-rate"), GlobalConcurrencyLimitUpdate(slot_decay_per_second=0.0)
            )
        with pytest.raises(NotARateLimitError, match=stack.limit_name("erp-api-rate")):
            for _ in range(20):  # tokens granted before the change may still be spent
                rate.wait_for_token(Deadline.after(30))

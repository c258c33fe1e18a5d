"""A limit the stack did not provision is an error before any work starts, never "unlimited"."""

from datetime import UTC, datetime

import pytest
from prefect.client.schemas.objects import StateType

from flows.demo_erp.behaviour import ErpBehaviour
from flows.runtime import FlowRuntime, MissingConcurrencyLimitError, NotARateLimitError
from tests.flows.stack import finish, flow_runs_since, set_flow_variables


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

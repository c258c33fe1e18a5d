"""Every stack carries the Variables and limits the shipped flows read; a stack without one is refused."""

from infra.flow_requirements import flow_requirement_problems
from infra.stack_config import STACKS, from_stack_file, stack_file

SHIPPED = [from_stack_file(stack_file(stack)) for stack in STACKS]


def test_every_stack_carries_what_the_flows_read() -> None:
    for stack in SHIPPED:
        assert flow_requirement_problems(stack) == []


def test_a_stack_without_a_flow_variable_or_limit_is_refused() -> None:
    stack = SHIPPED[0]
    platform = stack.platform.model_copy(
        update={
            "variables": {k: v for k, v in stack.platform.variables.items() if k != "rpa2_timeout"},
            "concurrency_limits": [
                limit.model_copy(update={"slot_decay_per_second": 0.0})
                if limit.name == "erp-api-rate"
                else limit
                for limit in stack.platform.concurrency_limits
                if limit.name != "db-write"
            ],
        }
    )
    broken = stack.model_copy(update={"config": stack.config.model_copy(update={"platform": platform})})
    reasons = [f"{p.property}: {p.reason}" for p in flow_requirement_problems(broken)]
    assert reasons == [
        "platform.variables.rpa2_timeout: missing: flow rpa2 reads development_rpa2_timeout",
        "platform.concurrencyLimits: missing 'db-write': the flows hold dev-db-write around calls",
        "platform.concurrencyLimits: 'erp-api-rate' is used as a rate limit: give it slotDecayPerSecond > 0 (the rate)",
    ]

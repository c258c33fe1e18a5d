"""Every stack carries the Variables and limits the shipped flows read; a stack without one is refused."""

from infra.stack_files.flow_requirements import flow_requirement_problems
from infra.stack_files.settings import AdaptiveSettings
from infra.stack_files.stack_config import STACKS, from_stack_file, stack_file
from rpa_naming import adaptive_floor_variable_name

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


def test_an_adaptive_limit_must_guard_an_http_service_and_keep_its_floor_below_it() -> None:
    stack = SHIPPED[0]
    adaptive = {"erp-api": {"floor": 9}, "erp-api-rate": {"floor": 1}, "db-write": {"floor": 1}}
    platform = stack.platform.model_copy(
        update={
            "variables": {**stack.platform.variables, "erp-api_adaptive_floor": 3},
            "concurrency_limits": [
                limit.model_copy(update={"adaptive": AdaptiveSettings.model_validate(adaptive[limit.name])})
                for limit in stack.platform.concurrency_limits
            ],
        }
    )
    broken = stack.model_copy(update={"config": stack.config.model_copy(update={"platform": platform})})
    reasons = [f"{p.property}: {p.reason}" for p in flow_requirement_problems(broken)]
    assert reasons == [
        "platform.concurrencyLimits[0].adaptive.floor: 9 is above the limit 5",
        "platform.variables.erp-api_adaptive_floor: set from platform.concurrencyLimits[0].adaptive.floor; "
        "remove it here",
        "platform.concurrencyLimits[1].adaptive: 'erp-api-rate' cannot be adaptive: only limits on services "
        "called over HTTP can (erp-api)",
        "platform.concurrencyLimits[2].adaptive: 'db-write' cannot be adaptive: only limits on services "
        "called over HTTP can (erp-api)",
    ]


def test_an_adaptive_limit_puts_its_floor_in_a_variable_the_flows_read() -> None:
    prod = next(stack for stack in SHIPPED if stack.stack == "prod")
    assert prod.server_variables["erp-api_adaptive_floor"] == 2
    assert prod.variable_name("erp-api_adaptive_floor") == adaptive_floor_variable_name(
        "production", "erp-api"
    )

"""What the shipped RPA flows read at run time, checked against a stack: without these a flow run fails at
its start (a missing Variable or limit is an error in the flows' runtime, never silently unlimited)."""

import rpa_naming
from infra.prefect_resources.inputs import Problem
from infra.settings import StackSettings


def is_number(value: object, whole: bool, above: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value > above and (not whole or isinstance(value, int))


def flow_requirement_problems(settings: StackSettings) -> list[Problem]:
    platform = settings.platform
    problems = []
    for flow in rpa_naming.FLOWS:
        for setting in rpa_naming.FLOW_SETTINGS:
            key = f"{flow}_{setting}"
            path = f"platform.variables.{key}"
            value = platform.variables.get(key)
            if key not in platform.variables:
                problems.append(Problem(path, f"missing: flow {flow} reads {settings.variable_name(key)}"))
            elif setting == rpa_naming.MAX_CONCURRENT_TASKS and not is_number(value, whole=True, above=0):
                problems.append(Problem(path, f"the task runner's width: an integer >= 1 (got {value!r})"))
            elif setting == rpa_naming.TIMEOUT and not is_number(value, whole=False, above=0):
                problems.append(Problem(path, f"seconds: a number > 0 (got {value!r})"))
    limits = {limit.name: limit for limit in platform.concurrency_limits}
    for resource in (*rpa_naming.CONCURRENCY_RESOURCES, *rpa_naming.RATE_RESOURCES):
        if resource not in limits:
            problems.append(
                Problem(
                    "platform.concurrencyLimits",
                    f"missing '{resource}': the flows hold {settings.limit_name(resource)} around calls",
                )
            )
    for resource in rpa_naming.RATE_RESOURCES:
        if resource in limits and limits[resource].slot_decay_per_second <= 0:
            problems.append(
                Problem(
                    "platform.concurrencyLimits",
                    f"'{resource}' is used as a rate limit: give it slotDecayPerSecond > 0 (the rate)",
                )
            )
    return problems

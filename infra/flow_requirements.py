"""What the shipped RPA flows read at run time, checked against a stack: without these a flow run fails at
its start (a missing Variable or limit is an error in the flows' runtime, never silently unlimited)."""

import rpa_naming
from infra.problem import Problem
from infra.settings import StackSettings
from rpa_naming.flow_setting_bounds import FLOW_SETTING_BOUNDS


def flow_requirement_problems(settings: StackSettings) -> list[Problem]:
    platform = settings.platform
    problems = []
    for flow in rpa_naming.FLOWS:
        for setting in rpa_naming.FLOW_SETTINGS:
            key = f"{flow}_{setting}"
            path = f"platform.variables.{key}"
            if key not in platform.variables:
                problems.append(Problem(path, f"missing: flow {flow} reads {settings.variable_name(key)}"))
            elif (problem := FLOW_SETTING_BOUNDS[setting].problem(platform.variables[key])) is not None:
                problems.append(Problem(path, f"Prefect Variable {settings.variable_name(key)}: {problem}"))
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

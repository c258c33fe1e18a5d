"""What the shipped RPA flows read at run time, checked against a stack: without these a flow run fails at
its start (a missing Variable or limit is an error in the flows' runtime, never silently unlimited)."""

import rpa_naming
from infra.problem import Problem
from infra.stack_files.settings import StackSettings
from rpa_naming.flow_setting_bounds import FLOW_SETTING_BOUNDS


def flow_requirement_problems(settings: StackSettings) -> list[Problem]:
    platform = settings.platform
    problems = []
    for flow in rpa_naming.FLOWS:
        for setting in rpa_naming.FLOW_SETTINGS:
            key = rpa_naming.flow_variable_key(flow, setting)
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
    return problems + adaptive_problems(settings)


def adaptive_problems(settings: StackSettings) -> list[Problem]:
    """An adaptive limit must guard a service the flows call over HTTP, hold calls rather than a rate, and
    leave room above its floor; its Variable's key is the platform's."""
    problems = []
    for index, limit in enumerate(settings.platform.concurrency_limits):
        if limit.adaptive is None:
            continue
        path = f"platform.concurrencyLimits[{index}].adaptive"
        adaptable = ", ".join(rpa_naming.ADAPTIVE_RESOURCES)
        if limit.name not in rpa_naming.ADAPTIVE_RESOURCES:
            reason = f"'{limit.name}' cannot be adaptive: only limits on services called over HTTP can"
            problems.append(Problem(path, f"{reason} ({adaptable})"))
        elif limit.slot_decay_per_second > 0:
            problems.append(Problem(path, f"'{limit.name}' is a rate limit; only a concurrency limit adapts"))
        elif limit.adaptive.floor > limit.limit:
            floor = limit.adaptive.floor
            problems.append(Problem(f"{path}.floor", f"{floor} is above the limit {limit.limit}"))
        key = rpa_naming.adaptive_floor_key(limit.name)
        if key in settings.platform.variables:
            problems.append(Problem(f"platform.variables.{key}", f"set from {path}.floor; remove it here"))
    return problems

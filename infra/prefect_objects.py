"""A stack's settings as the inputs of its Prefect resources, and what Prefect would refuse of them.

Both the program (which declares the resources) and the settings' validation (which applies the resources'
own rules to the names the stack gives them, before anything is sent) start from here.
"""

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from pydantic.alias_generators import to_camel

import rpa_naming
from infra.policies import rules
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitInputs
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitInputs
from infra.prefect_resources.variable import VariableInputs
from infra.prefect_resources.work_pool import WorkPoolInputs
from infra.prefect_resources.work_queue import WorkQueueInputs
from infra.prefect_resources.work_queue_priorities import WorkQueuePrioritiesInputs
from infra.problem import Problem
from infra.settings import (
    ConcurrencyLimitSettings,
    PoolSettings,
    QueueSettings,
    StackModel,
    StackSettings,
)

Inputs = TypeVar("Inputs", bound=ResourceInputs)


def derived(inputs: type[Inputs], settings: StackSettings, declared: StackModel, **given: Any) -> Inputs:
    """A resource's inputs from the settings object that declares it: every field both models have, taken
    as the stack file says it (so a field added to both travels without a mapping), then `given` (the names
    the stack gives it on the server ...) and how the stack manages it."""
    shared = inputs.model_fields.keys() & type(declared).model_fields.keys()
    return inputs.model_validate(
        {**{name: getattr(declared, name) for name in shared}, **given, **managed(settings)}
    )


def managed(settings: StackSettings) -> dict[str, Any]:
    """How the stack manages each object it declares: whether it adopts one that exists; in which file."""
    return {"adopt": settings.platform.adopt_existing, "declared_in": settings.source}


def work_pool_inputs(settings: StackSettings, pool: PoolSettings) -> WorkPoolInputs:
    return derived(
        WorkPoolInputs,
        settings,
        pool,
        name=settings.pool_name(pool.name),
        job_defaults=settings.job_defaults(pool),
    )


def work_queue_inputs(settings: StackSettings, queue: QueueSettings) -> WorkQueueInputs:
    """(A queue's priority is set on its pool's WorkQueuePriorities: it is no field of a queue's inputs.)"""
    return derived(WorkQueueInputs, settings, queue, work_pool_name=settings.pool_name(queue.pool))


def queue_priorities_inputs(settings: StackSettings, pool: PoolSettings) -> WorkQueuePrioritiesInputs | None:
    """The priorities the stack gives the pool's queues; None when it gives none."""
    priorities = {q.name: q.priority for q in settings.platform.queues if q.pool == pool.name and q.priority}
    if not priorities:
        return None
    return WorkQueuePrioritiesInputs(work_pool_name=settings.pool_name(pool.name), priorities=priorities)


def variable_inputs(settings: StackSettings, key: str, value: Any) -> VariableInputs:
    return VariableInputs(name=settings.variable_name(key), value=value, **managed(settings))


def concurrency_limit_inputs(
    settings: StackSettings, limit: ConcurrencyLimitSettings
) -> GlobalConcurrencyLimitInputs:
    return derived(GlobalConcurrencyLimitInputs, settings, limit, name=settings.limit_name(limit.name))


def tag_limit_inputs(settings: StackSettings, tag: str, limit: int) -> TaskRunConcurrencyLimitInputs:
    return TaskRunConcurrencyLimitInputs(tag=settings.tag(tag), limit=limit, **managed(settings))


class DeclaredObject(NamedTuple):
    """A Prefect object the stack writes, and the stack file key that declares it."""

    path: str
    inputs: ResourceInputs
    # Variables and tag limits are one value at their key; the other objects' properties are keys under it.
    single_value: bool = False

    def key(self, prop: str) -> str:
        """The stack file key of one property of the object."""
        return self.path if self.single_value else f"{self.path}.{prop}"


def declared_objects(settings: StackSettings) -> list[DeclaredObject]:
    """Every Prefect object the stack writes (queue priorities aside: they belong to their pool), in the order
    the stack file declares them."""
    platform = settings.platform
    pools = {pool.name for pool in platform.pools}
    limits = platform.concurrency_limits
    return [
        *(
            DeclaredObject(f"platform.pools[{i}]", work_pool_inputs(settings, p))
            for i, p in enumerate(platform.pools)
        ),
        *(
            DeclaredObject(f"platform.queues[{i}]", work_queue_inputs(settings, q))
            for i, q in enumerate(platform.queues)
            if q.pool in pools
        ),
        *(
            DeclaredObject(f"platform.concurrencyLimits[{i}]", concurrency_limit_inputs(settings, c))
            for i, c in enumerate(limits)
        ),
        *(
            DeclaredObject(
                f"platform.variables.{key}", variable_inputs(settings, key, value), single_value=True
            )
            for key, value in platform.variables.items()
        ),
        *(
            DeclaredObject(
                f"platform.concurrencyLimits[{i}].adaptive.floor",
                variable_inputs(settings, rpa_naming.adaptive_floor_key(c.name), c.adaptive.floor),
                single_value=True,
            )
            for i, c in enumerate(limits)
            if c.adaptive is not None
        ),
        *(
            DeclaredObject(
                f"platform.tagLimits.{tag}", tag_limit_inputs(settings, tag, limit), single_value=True
            )
            for tag, limit in platform.tag_limits.items()
        ),
    ]


def prefect_problems(settings: StackSettings) -> list[Problem]:
    """What Prefect would refuse once the stack's names are applied, and the zero limits the policy pack
    refuses, found with the resources' and the policies' own rules and reported against the stack file's
    keys."""
    problems = []
    for declared_object in declared_objects(settings):
        problems += resource_problems(declared_object.inputs, declared_object.key)
    for pool in settings.platform.pools:
        if priorities := queue_priorities_inputs(settings, pool):
            problems += resource_problems(priorities, priority_path(settings, pool))
    return problems


POLICED: dict[type[ResourceInputs], tuple[str, str]] = {
    WorkPoolInputs: (rules.WORK_POOL, "concurrencyLimit"),
    WorkQueueInputs: (rules.WORK_QUEUE, "concurrencyLimit"),
    GlobalConcurrencyLimitInputs: (rules.GLOBAL_LIMIT, "limit"),
    TaskRunConcurrencyLimitInputs: (rules.TAG_LIMIT, "limit"),
}
"""The policy pack's type of each resource, and the property its zero-limit rule is about."""


def resource_problems(inputs: ResourceInputs, key_path: Callable[[str], str]) -> list[Problem]:
    """The resource's own problems, then the policy pack's zero-limit rule, at their stack file keys
    (`key_path` turns a property of the resource's inputs into one)."""
    props = declared(inputs)
    problems = []
    for problem in type(inputs).problems(props):
        prop = {"workPoolName": "pool"}.get(problem.property, problem.property)
        if prop.startswith("jobDefaults."):  # The stack file writes job variables camelCase.
            prop = "jobDefaults." + to_camel(prop.removeprefix("jobDefaults."))
        problems.append(Problem(key_path(prop), f"{inputs.label()}: {problem.reason}"))
    if type(inputs) in POLICED and not problems:
        resource_type, prop = POLICED[type(inputs)]
        for violation in rules.no_zero_limit_unless_inactive(resource_type, props):
            problems.append(Problem(key_path(prop), violation))
    return problems


def priority_path(settings: StackSettings, pool: PoolSettings) -> Callable[[str], str]:
    """`priorities.critical` -> the key of that queue's priority in the stack file."""
    indexes = {q.name: i for i, q in enumerate(settings.platform.queues) if q.pool == pool.name}

    def key_path(prop: str) -> str:
        queue = prop.removeprefix("priorities.")
        return f"platform.queues[{indexes[queue]}].priority" if queue in indexes else "platform.queues"

    return key_path


def declared(inputs: ResourceInputs) -> dict[str, Any]:
    """The inputs as the program declares them (not as JSON, which would turn an infinity into null)."""
    return inputs.model_dump(by_alias=True)

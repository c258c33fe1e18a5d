"""A stack's settings as the Prefect objects it writes: each object's inputs, its resource name in the stack,
the stack file key that declares it and what it is created after. The program declares them, and the
settings' validation and `make check` judge them, from here (by kind: infra/stack_files/prefect_kinds.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import rpa_naming
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitInputs
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitInputs
from infra.prefect_resources.variable import VariableInputs
from infra.prefect_resources.work_pool import WorkPoolInputs
from infra.prefect_resources.work_queue import WorkQueueInputs
from infra.prefect_resources.work_queue_priorities import WorkQueuePrioritiesInputs
from infra.stack_files.settings import (
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


@dataclass(frozen=True)
class DeclaredObject:
    """A Prefect object the stack writes."""

    resource_name: str
    """Its name among the stack's resources (Pulumi's URN holds it)."""
    path: str
    """The stack file key that declares it."""
    inputs: ResourceInputs
    after: tuple[str, ...] = ()
    """The resource names of the stack's objects it is created after (a queue after its pool)."""
    key_of: Callable[[str], str] | None = None
    """The stack file key of one of its properties; by default, the property under `path`."""

    def key(self, prop: str) -> str:
        return self.key_of(prop) if self.key_of else f"{self.path}.{prop}"


def at(path: str) -> Callable[[str], str]:
    """Every property at one key: a Variable or a tag limit is one value in the stack file (a part of a
    Variable's value is under it: `value.retries` -> `<path>.retries`)."""

    def key_path(prop: str) -> str:
        _field, _, inside = prop.partition(".")
        return f"{path}.{inside}" if inside else path

    return key_path


def pools(settings: StackSettings) -> list[DeclaredObject]:
    return [
        DeclaredObject(f"pool-{pool.name}", f"platform.pools[{i}]", work_pool_inputs(settings, pool))
        for i, pool in enumerate(settings.platform.pools)
    ]


def queues(settings: StackSettings) -> list[DeclaredObject]:
    """(A queue of a pool the stack does not define is left out: validation reports that pool.)"""
    defined = {pool.name for pool in settings.platform.pools}
    return [
        DeclaredObject(
            f"queue-{queue.pool}-{queue.name}",
            f"platform.queues[{i}]",
            work_queue_inputs(settings, queue),
            after=(f"pool-{queue.pool}",),
        )
        for i, queue in enumerate(settings.platform.queues)
        if queue.pool in defined
    ]


def queue_priorities(settings: StackSettings) -> list[DeclaredObject]:
    """A pool's priorities, set together once its queues exist (see WorkQueuePriorities)."""
    declared = []
    for pool in settings.platform.pools:
        if (inputs := queue_priorities_inputs(settings, pool)) is None:
            continue
        pool_queues = [q for q in settings.platform.queues if q.pool == pool.name]
        declared.append(
            DeclaredObject(
                f"queue-priorities-{pool.name}",
                "platform.queues",
                inputs,
                after=(f"pool-{pool.name}", *(f"queue-{q.pool}-{q.name}" for q in pool_queues)),
                key_of=priority_path(settings, pool),
            )
        )
    return declared


def priority_path(settings: StackSettings, pool: PoolSettings) -> Callable[[str], str]:
    """`priorities.critical` -> the key of that queue's priority in the stack file."""
    indexes = {q.name: i for i, q in enumerate(settings.platform.queues) if q.pool == pool.name}

    def key_path(prop: str) -> str:
        queue = prop.removeprefix("priorities.")
        return f"platform.queues[{indexes[queue]}].priority" if queue in indexes else "platform.queues"

    return key_path


def variables(settings: StackSettings) -> list[DeclaredObject]:
    """`variables:`, then the floor of each adaptive limit (which the flows read to know it is adaptive)."""
    limits = settings.platform.concurrency_limits
    declared = [
        (key, value, f"platform.variables.{key}") for key, value in settings.platform.variables.items()
    ] + [
        (
            rpa_naming.adaptive_floor_key(c.name),
            c.adaptive.floor,
            f"platform.concurrencyLimits[{i}].adaptive.floor",
        )
        for i, c in enumerate(limits)
        if c.adaptive is not None
    ]
    return [
        DeclaredObject(f"variable-{key}", path, variable_inputs(settings, key, value), key_of=at(path))
        for key, value, path in declared
    ]


def concurrency_limits(settings: StackSettings) -> list[DeclaredObject]:
    return [
        DeclaredObject(
            f"limit-{c.name}", f"platform.concurrencyLimits[{i}]", concurrency_limit_inputs(settings, c)
        )
        for i, c in enumerate(settings.platform.concurrency_limits)
    ]


def tag_limits(settings: StackSettings) -> list[DeclaredObject]:
    return [
        DeclaredObject(
            f"tag-limit-{tag}",
            f"platform.tagLimits.{tag}",
            tag_limit_inputs(settings, tag, limit),
            key_of=at(f"platform.tagLimits.{tag}"),
        )
        for tag, limit in settings.platform.tag_limits.items()
    ]

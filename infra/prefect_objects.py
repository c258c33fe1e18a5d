"""A stack's settings as the inputs of its Prefect resources, and what Prefect would refuse of them.

Both the program (which declares the resources) and the settings' validation (which applies the resources'
own rules to the names the stack gives them, before anything is sent) start from here.
"""

from typing import Any

from pydantic.alias_generators import to_camel

from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitInputs
from infra.prefect_resources.inputs import Problem, ResourceInputs
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitInputs
from infra.prefect_resources.variable import VariableInputs
from infra.prefect_resources.work_pool import WorkPoolInputs
from infra.prefect_resources.work_queue import WorkQueueInputs
from infra.prefect_resources.work_queue_priorities import WorkQueuePrioritiesInputs
from infra.settings import ConcurrencyLimitSettings, PoolSettings, QueueSettings, StackSettings


def work_pool_inputs(settings: StackSettings, pool: PoolSettings) -> WorkPoolInputs:
    return WorkPoolInputs(
        name=settings.pool_name(pool.name),
        type=pool.type,
        description=pool.description,
        concurrency_limit=pool.concurrency_limit,
        paused=pool.paused,
        base_job_template=pool.base_job_template,
        job_defaults=settings.job_defaults(pool),
        adopt=settings.platform.adopt_existing,
    )


def work_queue_inputs(settings: StackSettings, queue: QueueSettings) -> WorkQueueInputs:
    return WorkQueueInputs(
        name=queue.name,
        work_pool_name=settings.pool_name(queue.pool),
        concurrency_limit=queue.concurrency_limit,
        description=queue.description,
        paused=queue.paused,
        adopt=settings.platform.adopt_existing,
    )


def queue_priorities_inputs(settings: StackSettings, pool: PoolSettings) -> WorkQueuePrioritiesInputs | None:
    """The priorities the stack gives the pool's queues; None when it gives none."""
    priorities = {q.name: q.priority for q in settings.platform.queues if q.pool == pool.name and q.priority}
    if not priorities:
        return None
    return WorkQueuePrioritiesInputs(work_pool_name=settings.pool_name(pool.name), priorities=priorities)


def variable_inputs(settings: StackSettings, key: str, value: Any) -> VariableInputs:
    return VariableInputs(
        name=settings.variable_name(key), value=value, adopt=settings.platform.adopt_existing
    )


def concurrency_limit_inputs(
    settings: StackSettings, limit: ConcurrencyLimitSettings
) -> GlobalConcurrencyLimitInputs:
    return GlobalConcurrencyLimitInputs(
        name=settings.limit_name(limit.name),
        limit=limit.limit,
        active=limit.active,
        slot_decay_per_second=limit.slot_decay_per_second,
        adopt=settings.platform.adopt_existing,
    )


def tag_limit_inputs(settings: StackSettings, tag: str, limit: int) -> TaskRunConcurrencyLimitInputs:
    return TaskRunConcurrencyLimitInputs(
        tag=settings.tag(tag), limit=limit, adopt=settings.platform.adopt_existing
    )


def prefect_problems(settings: StackSettings) -> list[Problem]:
    """What Prefect would refuse once the stack's names are applied, found with the resources' own rules and
    reported against the stack file's keys."""
    platform = settings.platform
    pools = {pool.name for pool in platform.pools}
    located: list[tuple[str, ResourceInputs, dict[str, str]]] = [
        *((f"platform.pools[{i}]", work_pool_inputs(settings, p), {}) for i, p in enumerate(platform.pools)),
        *(
            (f"platform.queues[{i}]", work_queue_inputs(settings, q), {"workPoolName": "pool"})
            for i, q in enumerate(platform.queues)
            if q.pool in pools
        ),
        *(
            ("platform.queues", priorities, {"priorities": "priority"})
            for pool in platform.pools
            if (priorities := queue_priorities_inputs(settings, pool))
        ),
        *(
            (f"platform.concurrencyLimits[{i}]", concurrency_limit_inputs(settings, c), {})
            for i, c in enumerate(platform.concurrency_limits)
        ),
    ]
    problems = []
    for path, inputs, rename in located:
        for problem in type(inputs).problems(inputs.to_props()):
            prop = rename.get(problem.property, problem.property)
            if prop.startswith("jobDefaults."):  # The stack file writes job variables camelCase.
                prop = "jobDefaults." + to_camel(prop.removeprefix("jobDefaults."))
            problems.append(Problem(f"{path}.{prop}", f"{inputs.label()}: {problem.reason}"))
    for key, value in platform.variables.items():
        for problem in VariableInputs.problems(variable_inputs(settings, key, value).to_props()):
            problems.append(
                Problem(
                    f"platform.variables.{key}", f"variable '{settings.variable_name(key)}': {problem.reason}"
                )
            )
    for tag, limit in platform.tag_limits.items():
        for problem in TaskRunConcurrencyLimitInputs.problems(
            tag_limit_inputs(settings, tag, limit).to_props()
        ):
            problems.append(
                Problem(f"platform.tagLimits.{tag}", f"tag '{settings.tag(tag)}': {problem.reason}")
            )
    return problems

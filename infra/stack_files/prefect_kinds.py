"""Every kind of Prefect object a stack writes, in one list. The program declares a stack's objects kind by
kind; the settings' validation and `make check` judge them; `make status` reads them back for drift; the
policy pack's zero-limit rule and the contract cases are held to the list by tests
(tests/unit/test_prefect_kinds.py).

Adding a kind: its module in infra/prefect_resources/ (inputs, provider, resource), its stack file key
(infra/stack_files/settings.py) and the function listing a stack's objects of it
(infra/stack_files/prefect_objects.py), its entry here, and its contract case
(tests/contract/resource_cases.py).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic.alias_generators import to_camel

from infra.policies import rules
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimit
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.resource import PrefectResource
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimit
from infra.prefect_resources.variable import Variable
from infra.prefect_resources.work_pool import WorkPool
from infra.prefect_resources.work_queue import WorkQueue
from infra.prefect_resources.work_queue_priorities import WorkQueuePriorities
from infra.problem import Problem
from infra.stack_files import prefect_objects
from infra.stack_files.prefect_objects import DeclaredObject
from infra.stack_files.settings import StackSettings


@dataclass(frozen=True)
class PrefectKind:
    resource: type[PrefectResource[Any]]
    objects: Callable[[StackSettings], list[DeclaredObject]]
    """The stack's objects of this kind, in the order the stack file declares them."""
    output: tuple[str, Callable[[StackSettings], Any]] | None = None
    """The stack output that names them, and its value."""
    zero_limit_property: str | None = None
    """The property the policy pack's zero-limit rule judges (rules.no_zero_limit_unless_inactive)."""

    @property
    def type_token(self) -> str:
        """The resource's type, as Pulumi and the policy pack see it."""
        return f"pulumi-python:{self.resource._resource_type_name}"


# In the order the program declares them: an object after those it needs (a queue after its pool).
KINDS: tuple[PrefectKind, ...] = (
    PrefectKind(
        WorkPool,
        prefect_objects.pools,
        ("workPools", lambda s: {pool.name: s.pool_name(pool.name) for pool in s.platform.pools}),
        zero_limit_property="concurrencyLimit",
    ),
    PrefectKind(
        WorkQueue,
        prefect_objects.queues,
        ("workQueues", lambda s: [f"{s.pool_name(queue.pool)}/{queue.name}" for queue in s.platform.queues]),
        zero_limit_property="concurrencyLimit",
    ),
    PrefectKind(WorkQueuePriorities, prefect_objects.queue_priorities),
    PrefectKind(
        Variable,
        prefect_objects.variables,
        ("variables", lambda s: [s.variable_name(key) for key in s.server_variables]),
    ),
    PrefectKind(
        GlobalConcurrencyLimit,
        prefect_objects.concurrency_limits,
        (
            "concurrencyLimits",
            lambda s: [s.limit_name(limit.name) for limit in s.platform.concurrency_limits],
        ),
        zero_limit_property="limit",
    ),
    PrefectKind(
        TaskRunConcurrencyLimit,
        prefect_objects.tag_limits,
        ("tagLimits", lambda s: [s.tag(tag) for tag in s.platform.tag_limits]),
        zero_limit_property="limit",
    ),
)


def declared_objects(settings: StackSettings) -> list[tuple[PrefectKind, DeclaredObject]]:
    """Every Prefect object the stack writes, with its kind, in the order the program declares them."""
    return [(kind, declared) for kind in KINDS for declared in kind.objects(settings)]


def prefect_problems(settings: StackSettings) -> list[Problem]:
    """What Prefect would refuse once the stack's names are applied, and the zero limits the policy pack
    refuses, found with the resources' and the policies' own rules and reported against the stack file's
    keys."""
    return [
        problem
        for kind, declared in declared_objects(settings)
        for problem in object_problems(kind, declared)
    ]


def object_problems(kind: PrefectKind, declared: DeclaredObject) -> list[Problem]:
    """The object's own problems, then the policy pack's zero-limit rule, at their stack file keys."""
    inputs = declared.inputs
    props = as_declared(inputs)
    problems = []
    for problem in type(inputs).problems(props):
        key = declared.key(stack_file_property(problem.property))
        problems.append(Problem(key, f"{inputs.label()}: {problem.reason}"))
    if kind.zero_limit_property and not problems:
        for violation in rules.no_zero_limit_unless_inactive(kind.type_token, props):
            problems.append(Problem(declared.key(kind.zero_limit_property), violation))
    return problems


# Where a pool's template holds a job variable's default (and a part of it: `env.default.RPA_ERP_API_URL`).
TEMPLATE_DEFAULT = re.compile(r"variables\.properties\.(\w+)\.default(\..+)?")


def stack_file_property(prop: str) -> str:
    """An input's property as the stack file writes it, under the key that declares the object: a queue
    names its `pool`; job variables are camelCase under `jobDefaults`, where a pool's template holds their
    defaults."""
    if prop == "workPoolName":
        return "pool"
    head, _, variable = prop.partition(".")
    if head == "jobDefaults":
        return f"jobDefaults.{to_camel(variable)}"
    if head == "baseJobTemplate" and (default := TEMPLATE_DEFAULT.fullmatch(variable)):
        job_variable, inside = default.groups()
        return f"jobDefaults.{to_camel(job_variable)}{inside or ''}"
    return prop


def as_declared(inputs: ResourceInputs) -> dict[str, Any]:
    """The inputs as the program declares them (not as JSON, which would turn an infinity into null)."""
    return inputs.model_dump(by_alias=True)

"""Prefect work pool: type, concurrency limit, paused flag and base job template."""

import copy
from typing import Any, ClassVar, Self

import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound
from prefect.utilities.schema_tools.validation import validate
from prefect.workers.base import BaseWorker
from pydantic import Field

from infra.docker_rules import memory_problem
from infra.prefect_resources.bounds import Count
from infra.prefect_resources.deployment_guard import deployments_targeting, refuse_to_strand
from infra.prefect_resources.inputs import ResourceInputs, prefect_model_problems
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem

RESERVED_PREFIX = "prefect"  # The server answers 403 to pool names starting with it.


def default_base_job_template(pool_type: str) -> dict[str, Any] | None:
    """The worker type's own default template, computed from the installed worker class (never fetched)."""
    worker_class = BaseWorker.get_worker_class_from_type(pool_type)
    if worker_class is None:
        return None
    return copy.deepcopy(worker_class.get_default_base_job_template())


def job_variable_names(template: dict[str, Any]) -> list[str]:
    return sorted(template.get("variables", {}).get("properties", {}))


def job_default_problems(template: dict[str, Any], job_defaults: dict[str, Any]) -> list[Problem]:
    """Job defaults the template's own schema refuses (an unknown pull policy, an env that is not a mapping),
    checked with Prefect's validator as the worker would, but before anything is deployed."""
    schema = template.get("variables", {})
    properties = schema.get("properties", {})
    known = {key: value for key, value in job_defaults.items() if key in properties}
    problems = []
    for error in validate(known, schema, raise_on_error=False, ignore_required=True):
        variable = str(error.path[0]) if error.path else "?"
        expected = expected_values(properties.get(variable, {}))
        problems.append(Problem(f"jobDefaults.{variable}", f"{error.message}; expected {expected}"))
    return problems


def expected_values(schema: dict[str, Any]) -> str:
    """'one of IfNotPresent, Always' or 'string': what a job variable's schema accepts, in words."""
    options = schema.get("anyOf", [schema])
    enums = [value for option in options for value in option.get("enum", [])]
    if enums:
        return "one of " + ", ".join(map(str, enums))
    types = [option.get("type") for option in options if option.get("type") not in (None, "null")]
    return " or ".join(types) or "a valid value"


def with_job_defaults(template: dict[str, Any], job_defaults: dict[str, Any]) -> dict[str, Any]:
    """Set the defaults of the template's job variables (what every flow run gets unless its deployment
    overrides it)."""
    merged = copy.deepcopy(template)
    properties = merged.setdefault("variables", {}).setdefault("properties", {})
    for variable, value in job_defaults.items():
        properties[variable]["default"] = value
    return merged


class WorkPoolInputs(ResourceInputs):
    kind: ClassVar[str] = "work pool"
    replace_on: ClassVar[tuple[str, ...]] = ("name", "type")
    unmanaged: ClassVar[frozenset[str]] = ResourceInputs.unmanaged | {"job_defaults"}

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    description: str | None = None
    concurrency_limit: Count | None = None
    paused: bool = False
    base_job_template: dict[str, Any] | None = None
    """The whole template; when absent, the worker type's default template."""
    job_defaults: dict[str, Any] = Field(default_factory=dict)
    """Defaults of job variables (snake_case, as in the template: image, network_mode, env, mem_limit ...)
    applied on top of the template."""

    def prefect_problems(self) -> list[Problem]:
        problems = prefect_model_problems(
            lambda: WorkPoolCreate(name=self.name, type=self.type, concurrency_limit=self.concurrency_limit),
            rename={"concurrency_limit": "concurrencyLimit"},
        )
        if self.name.lower().startswith(RESERVED_PREFIX):
            problems.append(Problem("name", f"must not start with '{RESERVED_PREFIX}' (reserved by Prefect)"))
        template = self.base_job_template or default_base_job_template(self.type)
        if template is None:
            problems.append(
                Problem(
                    "type",
                    f"no worker for type '{self.type}' is installed here, so its default template is "
                    f"unknown; give baseJobTemplate or use one of: {', '.join(installed_worker_types())}",
                )
            )
            return problems
        known = job_variable_names(template)
        for variable in self.job_defaults:
            if variable not in known:
                problems.append(
                    Problem(
                        f"jobDefaults.{variable}",
                        f"not a job variable of the '{self.type}' template; allowed: {', '.join(known)}",
                    )
                )
        size = self.job_defaults.get("mem_limit")
        if self.type == "docker" and isinstance(size, str) and (problem := memory_problem(size)):
            problems.append(Problem("jobDefaults.mem_limit", f"{problem} (got {size!r})"))
        return problems + job_default_problems(template, self.job_defaults)

    def normalized(self) -> Self:
        template = self.base_job_template or default_base_job_template(self.type) or {}
        return self.model_copy(update={"base_job_template": with_job_defaults(template, self.job_defaults)})


def installed_worker_types() -> list[str]:
    return sorted(BaseWorker.get_all_available_worker_types())


class WorkPoolProvider(PrefectProvider[WorkPoolInputs]):
    inputs_model = WorkPoolInputs

    def fetch(self, client: SyncPrefectClient, inputs: WorkPoolInputs) -> tuple[str, WorkPoolInputs] | None:
        try:
            pool = client.read_work_pool(inputs.name)
        except ObjectNotFound:
            return None
        held = inputs.model_copy(
            update={
                "type": pool.type,
                "description": pool.description,
                "concurrency_limit": pool.concurrency_limit,
                "paused": pool.is_paused,
                "base_job_template": pool.base_job_template,
            }
        )
        return str(pool.id), held

    def create_object(self, client: SyncPrefectClient, inputs: WorkPoolInputs) -> str:
        pool = client.create_work_pool(
            WorkPoolCreate(
                name=inputs.name,
                type=inputs.type,
                description=inputs.description,
                concurrency_limit=inputs.concurrency_limit,
                is_paused=inputs.paused,
                base_job_template=inputs.base_job_template or {},
            )
        )
        return str(pool.id)

    def update_object(
        self, client: SyncPrefectClient, object_id: str, inputs: WorkPoolInputs, old: WorkPoolInputs | None
    ) -> None:
        update = WorkPoolUpdate(
            description=inputs.description,
            concurrency_limit=inputs.concurrency_limit,
            is_paused=inputs.paused,
        )
        if inputs.base_job_template is not None:  # The server refuses null; absent leaves it as it is.
            update.base_job_template = inputs.base_job_template
        client.update_work_pool(inputs.name, update)

    def delete_object(self, client: SyncPrefectClient, object_id: str, inputs: WorkPoolInputs) -> None:
        refuse_to_strand(inputs.label(), deployments_targeting(client, inputs.name))
        client.delete_work_pool(inputs.name)


class WorkPool(PrefectResource[WorkPoolInputs], module="prefect", name="WorkPool"):
    """A Prefect work pool. `name` is the full name on the server."""

    provider_class = WorkPoolProvider

    name: pulumi.Output[str]
    type: pulumi.Output[str]
    concurrency_limit: pulumi.Output[int | None]
    base_job_template: pulumi.Output[dict[str, Any]]

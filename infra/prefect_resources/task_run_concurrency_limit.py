"""Prefect task-run (tag) concurrency limit: at most N task runs carrying a tag run at once, server-wide.

Prefect 3.9 stores it as the global limit `tag:<tag>`, which the task engine acquires per task run. It is
managed here through that global limit because the tag API's create silently overwrites an existing limit,
and adopting an existing object must be explicit.
"""

from typing import ClassVar

import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from pydantic import Field

from infra.prefect_resources.bounds import Count
from infra.prefect_resources.global_concurrency_limit import (
    TAG_LIMIT_PREFIX,
    GlobalConcurrencyLimitInputs,
    GlobalConcurrencyLimitProvider,
)
from infra.prefect_resources.inputs import ResourceInputs, prefect_model_problems
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem


class TaskRunConcurrencyLimitInputs(ResourceInputs):
    kind: ClassVar[str] = "task-run concurrency limit"
    natural_key: ClassVar[tuple[str, ...]] = ("tag",)
    replace_on: ClassVar[tuple[str, ...]] = ("tag",)

    tag: str = Field(min_length=1)
    limit: Count

    def prefect_problems(self) -> list[Problem]:
        return prefect_model_problems(
            lambda: GlobalConcurrencyLimitCreate(name=f"{TAG_LIMIT_PREFIX}{self.tag}", limit=self.limit),
            rename={"name": "tag"},
        )

    def as_global_limit(self) -> GlobalConcurrencyLimitInputs:
        return GlobalConcurrencyLimitInputs(name=f"{TAG_LIMIT_PREFIX}{self.tag}", limit=self.limit)

    def label(self) -> str:
        return f"task-run concurrency limit for tag '{self.tag}'"


class TaskRunConcurrencyLimitProvider(PrefectProvider[TaskRunConcurrencyLimitInputs]):
    inputs_model = TaskRunConcurrencyLimitInputs

    def fetch(
        self, client: SyncPrefectClient, inputs: TaskRunConcurrencyLimitInputs
    ) -> tuple[str, TaskRunConcurrencyLimitInputs] | None:
        found = GlobalConcurrencyLimitProvider().fetch(client, inputs.as_global_limit())
        if found is None:
            return None
        limit_id, held = found
        return limit_id, inputs.model_copy(update={"limit": held.limit})

    def create_object(self, client: SyncPrefectClient, inputs: TaskRunConcurrencyLimitInputs) -> str:
        return GlobalConcurrencyLimitProvider().create_object(client, inputs.as_global_limit())

    def update_object(
        self,
        client: SyncPrefectClient,
        object_id: str,
        inputs: TaskRunConcurrencyLimitInputs,
        old: TaskRunConcurrencyLimitInputs | None,
    ) -> None:
        GlobalConcurrencyLimitProvider().update_object(client, object_id, inputs.as_global_limit(), None)

    def delete_object(
        self, client: SyncPrefectClient, object_id: str, inputs: TaskRunConcurrencyLimitInputs
    ) -> None:
        GlobalConcurrencyLimitProvider().delete_object(client, object_id, inputs.as_global_limit())


class TaskRunConcurrencyLimit(
    PrefectResource[TaskRunConcurrencyLimitInputs], module="prefect", name="TaskRunConcurrencyLimit"
):
    """At most `limit` task runs tagged `tag` at once."""

    provider_class = TaskRunConcurrencyLimitProvider

    tag: pulumi.Output[str]
    limit: pulumi.Output[int]

"""Prefect work queue inside a work pool: concurrency limit, paused flag. (Priorities are held per pool, by
WorkQueuePriorities: Prefect shifts sibling queues when one is given a priority.)"""

from collections.abc import Callable
from typing import ClassVar
from uuid import UUID

import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkQueueCreate
from prefect.exceptions import ObjectNotFound
from prefect.types.names import BANNED_CHARACTERS
from pydantic import Field

from infra.prefect_resources.bounds import Count
from infra.prefect_resources.deployment_guard import deployments_targeting, refuse_to_strand
from infra.prefect_resources.inputs import ResourceInputs, prefect_model_problems
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem


class WorkQueueInputs(ResourceInputs):
    kind: ClassVar[str] = "work queue"
    natural_key: ClassVar[tuple[str, ...]] = ("work_pool_name", "name")
    replace_on: ClassVar[tuple[str, ...]] = ("work_pool_name", "name")

    name: str = Field(min_length=1)
    work_pool_name: str = Field(min_length=1)
    concurrency_limit: Count | None = None
    description: str | None = None
    paused: bool = False

    def prefect_problems(self) -> list[Problem]:
        problems = prefect_model_problems(
            # mypy reads no positional default in a dataclass_transform field: `filter = Field(None, ...)`.
            lambda: WorkQueueCreate(name=self.name),  # type: ignore[call-arg]
        )
        banned = [char for char in BANNED_CHARACTERS if char in self.name]
        if banned:
            problems.append(Problem("name", f"must not contain {' '.join(banned)} (Prefect refuses them)"))
        return problems

    def label(self) -> str:
        return f"work queue '{self.name}' of work pool '{self.work_pool_name}'"


class WorkQueueProvider(PrefectProvider[WorkQueueInputs]):
    inputs_model = WorkQueueInputs

    def fetch(self, client: SyncPrefectClient, inputs: WorkQueueInputs) -> tuple[str, WorkQueueInputs] | None:
        try:
            queue = client.read_work_queue_by_name(inputs.name, work_pool_name=inputs.work_pool_name)
        except ObjectNotFound:
            return None
        held = inputs.model_copy(
            update={
                "concurrency_limit": queue.concurrency_limit,
                "description": queue.description or None,
                "paused": queue.is_paused,
            }
        )
        return str(queue.id), held

    def create_object(self, client: SyncPrefectClient, inputs: WorkQueueInputs) -> str:
        queue = client.create_work_queue(
            name=inputs.name,
            work_pool_name=inputs.work_pool_name,
            description=inputs.description,
            is_paused=inputs.paused,
            concurrency_limit=inputs.concurrency_limit,
        )
        return str(queue.id)

    def update_object(
        self, client: SyncPrefectClient, object_id: str, inputs: WorkQueueInputs, old: WorkQueueInputs | None
    ) -> None:
        update = {
            "description": inputs.description or "",  # The server stores "" for none and refuses null.
            "is_paused": inputs.paused,
            "concurrency_limit": inputs.concurrency_limit,
        }
        self._by_id_or_name(
            client, object_id, inputs, lambda queue_id: client.update_work_queue(queue_id, **update)
        )

    def delete_object(self, client: SyncPrefectClient, object_id: str, inputs: WorkQueueInputs) -> None:
        def delete(queue_id: UUID) -> None:
            targeting = deployments_targeting(client, inputs.work_pool_name, queue_id)
            refuse_to_strand(inputs.label(), targeting)
            client.delete_work_queue_by_id(queue_id)

        self._by_id_or_name(client, object_id, inputs, delete)

    @staticmethod
    def _by_id_or_name(
        client: SyncPrefectClient, object_id: str, inputs: WorkQueueInputs, call: Callable[[UUID], None]
    ) -> None:
        """Queues are addressed by id; when the id is stale (the queue was recreated out of band), find the
        queue by name."""
        try:
            call(UUID(object_id))
        except ObjectNotFound:
            call(client.read_work_queue_by_name(inputs.name, work_pool_name=inputs.work_pool_name).id)


class WorkQueue(PrefectResource[WorkQueueInputs], module="prefect", name="WorkQueue"):
    """A work queue in a work pool."""

    provider_class = WorkQueueProvider

    name: pulumi.Output[str]
    work_pool_name: pulumi.Output[str]
    concurrency_limit: pulumi.Output[int | None]

    def __init__(
        self,
        resource_name: str,
        inputs: WorkQueueInputs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        work_pool_name: pulumi.Input[str] | None = None,
    ) -> None:
        """`work_pool_name`, when given, in place of `inputs.work_pool_name`: the pool's `name` output, so
        that the queue is declared against the pool Pulumi holds, and waits for it."""
        self._declare(resource_name, inputs, opts, work_pool_name=work_pool_name)

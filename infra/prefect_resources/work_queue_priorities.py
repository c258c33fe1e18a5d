"""The priorities of a work pool's queues (1 is highest), held as one object.

Prefect shifts a pool's other queues when a queue is created with a priority, so queues that each set their
own priority end in an order that depends on the order of operations (a fresh `up` could leave `default`
ahead of `batch`); and a priority set through the queue itself shifts nothing, so two queues can end up
sharing one. Held together, the declared priorities are set exactly, then any queue the stack does not
declare (`default`) that shares a priority moves to the next free one. Read back, a declared priority that
differs, or that another queue shares, shows as drift.
"""

from collections import Counter
from typing import ClassVar

import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import ObjectNotFound
from pydantic import Field

from infra.prefect_resources.bounds import Priority
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem


class WorkQueuePrioritiesInputs(ResourceInputs):
    kind: ClassVar[str] = "queue priorities"
    natural_key: ClassVar[tuple[str, ...]] = ("work_pool_name",)
    replace_on: ClassVar[tuple[str, ...]] = ("work_pool_name",)

    work_pool_name: str = Field(min_length=1)
    priorities: dict[str, Priority]
    """Queue name -> priority. Queues of the pool left out keep whatever priority Prefect gives them."""

    def prefect_problems(self) -> list[Problem]:
        shared = sorted(p for p, count in Counter(self.priorities.values()).items() if count > 1)
        return [
            Problem(
                "priorities",
                f"queues {', '.join(sorted(q for q, p in self.priorities.items() if p == priority))} share "
                f"priority {priority}; Prefect keeps one queue per priority",
            )
            for priority in shared
        ]

    def label(self) -> str:
        return f"queue priorities of work pool '{self.work_pool_name}'"


class WorkQueuePrioritiesProvider(PrefectProvider[WorkQueuePrioritiesInputs]):
    inputs_model = WorkQueuePrioritiesInputs

    def fetch(
        self, client: SyncPrefectClient, inputs: WorkQueuePrioritiesInputs
    ) -> tuple[str, WorkQueuePrioritiesInputs] | None:
        try:
            pool = client.read_work_pool(inputs.work_pool_name)
        except ObjectNotFound:
            return None
        queues = client.read_work_queues(work_pool_name=inputs.work_pool_name)
        sharing = Counter(queue.priority for queue in queues)
        held = {
            queue.name: queue.priority
            for queue in queues
            if queue.name in inputs.priorities and sharing[queue.priority] == 1
        }
        return str(pool.id), inputs.model_copy(update={"priorities": held})

    def create_object(self, client: SyncPrefectClient, inputs: WorkQueuePrioritiesInputs) -> str:
        self._apply(client, inputs)
        return str(client.read_work_pool(inputs.work_pool_name).id)

    def update_object(
        self,
        client: SyncPrefectClient,
        object_id: str,
        inputs: WorkQueuePrioritiesInputs,
        old: WorkQueuePrioritiesInputs | None,
    ) -> None:
        self._apply(client, inputs)

    def delete_object(
        self, client: SyncPrefectClient, object_id: str, inputs: WorkQueuePrioritiesInputs
    ) -> None:
        """Nothing to delete: the queues keep their priorities (or go with their pool)."""

    @staticmethod
    def _apply(client: SyncPrefectClient, inputs: WorkQueuePrioritiesInputs) -> None:
        queues = {
            queue.name: queue for queue in client.read_work_queues(work_pool_name=inputs.work_pool_name)
        }
        for name, priority in inputs.priorities.items():
            if name not in queues:
                raise ObjectNotFound(http_exc=Exception(f"work queue '{name}' does not exist"))
            if queues[name].priority != priority:
                client.update_work_queue(queues[name].id, priority=priority)
        taken = set(inputs.priorities.values())
        others = sorted(
            (queue for name, queue in queues.items() if name not in inputs.priorities),
            key=lambda queue: (queue.priority, queue.name),
        )
        for queue in others:
            free = queue.priority
            while free in taken:
                free += 1
            if free != queue.priority:
                client.update_work_queue(queue.id, priority=free)
            taken.add(free)


class WorkQueuePriorities(
    PrefectResource[WorkQueuePrioritiesInputs], module="prefect", name="WorkQueuePriorities"
):
    """The priorities of the queues of one work pool."""

    provider_class = WorkQueuePrioritiesProvider

    work_pool_name: pulumi.Output[str]
    priorities: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        resource_name: str,
        inputs: WorkQueuePrioritiesInputs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        work_pool_name: pulumi.Input[str] | None = None,
    ) -> None:
        """`work_pool_name`, when given, in place of `inputs.work_pool_name`: the pool's `name` output, so
        that the priorities are declared against the pool Pulumi holds, and wait for it."""
        self._declare(resource_name, inputs, opts, work_pool_name=work_pool_name)

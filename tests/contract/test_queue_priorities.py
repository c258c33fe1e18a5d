"""A pool's queue priorities land where declared whatever the order the queues were made in, and drift shows."""

from collections.abc import Callable

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate

from infra.prefect_resources.work_queue_priorities import WorkQueuePrioritiesProvider
from tests.support.provider_protocol import EngineStack


def priorities(client: SyncPrefectClient, pool: str) -> dict[str, int]:
    return {queue.name: queue.priority for queue in client.read_work_queues(work_pool_name=pool)}


def test_priorities_converge_whatever_the_creation_order(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    pool = f"ct-{unique}-prio"
    client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    # The order that used to leave `default` ahead of `batch`: batch takes 2, then critical takes 1 and
    # shifts default onto 2 and batch onto 3.
    client.create_work_queue(name="batch", work_pool_name=pool, priority=2)
    client.create_work_queue(name="critical", work_pool_name=pool, priority=1)
    assert priorities(client, pool) == {"critical": 1, "default": 2, "batch": 3}

    stack = engine("WorkQueuePriorities", WorkQueuePrioritiesProvider())
    declared = {"workPoolName": pool, "priorities": {"critical": 1, "batch": 2}}
    assert stack.up(declared) == "create"
    assert priorities(client, pool) == {"critical": 1, "batch": 2, "default": 3}
    assert stack.up(declared) == "same"

    default = client.read_work_queue_by_name("default", work_pool_name=pool)
    # Out of band, through the queue itself, which shifts nothing: default and critical now share 1.
    client.update_work_queue(default.id, priority=1)
    assert stack.refresh()
    assert stack.state is not None
    assert stack.state.outputs["priorities"] == {"batch": 2}, "a shared priority reads as drift"
    assert stack.up(declared) == "update"
    assert priorities(client, pool) == {"critical": 1, "batch": 2, "default": 3}

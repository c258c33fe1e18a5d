"""One case per Prefect resource: inputs, an in-place change, and how the server is read and edited behind
Pulumi's back, so a single lifecycle test covers every provider the same way."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitUpdate,
    VariableUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)

from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitProvider
from infra.prefect_resources.variable import VariableProvider
from infra.prefect_resources.work_pool import WorkPoolProvider
from infra.prefect_resources.work_queue import WorkQueueProvider

Props = dict[str, Any]


@dataclass(frozen=True)
class ResourceCase:
    resource_type: str
    provider: type[PrefectProvider]
    inputs: Callable[[str], Props]
    """Inputs for a fresh object, from a unique suffix."""
    change: Props
    """An in-place update (merged into the inputs)."""
    held: Callable[[SyncPrefectClient, Props], Any]
    """The value on the server that `change` sets."""
    changed_value: Any
    edit_out_of_band: Callable[[SyncPrefectClient, Props], None]
    """Change that same value on the server, as an operator clicking in the UI would."""
    delete_out_of_band: Callable[[SyncPrefectClient, Props], None]
    exists: Callable[[SyncPrefectClient, Props], bool]
    bad: Props
    """Inputs Prefect would refuse, merged into valid ones."""
    bad_property: str
    setup: Callable[[SyncPrefectClient, str], None] = lambda client, unique: None


def _pool_exists(client: SyncPrefectClient, name: str) -> bool:
    return any(pool.name == name for pool in client.read_work_pools())


def _queue(client: SyncPrefectClient, props: Props) -> Any:
    return client.read_work_queue_by_name(props["name"], work_pool_name=props["workPoolName"])


def _queue_exists(client: SyncPrefectClient, props: Props) -> bool:
    return any(
        queue.name == props["name"] for queue in client.read_work_queues(work_pool_name=props["workPoolName"])
    )


def _limit_exists(client: SyncPrefectClient, name: str) -> bool:
    return any(limit.name == name for limit in client.read_global_concurrency_limits(limit=200))


CASES = [
    ResourceCase(
        resource_type="WorkPool",
        provider=WorkPoolProvider,
        inputs=lambda u: {"name": f"ct-{u}-pool", "type": "process", "concurrencyLimit": 3},
        change={"concurrencyLimit": 5, "description": "resized"},
        held=lambda client, props: client.read_work_pool(props["name"]).concurrency_limit,
        changed_value=5,
        edit_out_of_band=lambda client, props: client.update_work_pool(
            props["name"], WorkPoolUpdate(concurrency_limit=9)
        ),
        delete_out_of_band=lambda client, props: client.delete_work_pool(props["name"]),
        exists=lambda client, props: _pool_exists(client, props["name"]),
        bad={"concurrencyLimit": -1},
        bad_property="concurrencyLimit",
    ),
    ResourceCase(
        resource_type="WorkQueue",
        provider=WorkQueueProvider,
        setup=lambda client, u: (
            client.create_work_pool(WorkPoolCreate(name=f"ct-{u}-qpool", type="process")) and None
        ),
        inputs=lambda u: {
            "name": "critical",
            "workPoolName": f"ct-{u}-qpool",
            "concurrencyLimit": 1,
        },
        change={"concurrencyLimit": 4},
        held=lambda client, props: _queue(client, props).concurrency_limit,
        changed_value=4,
        edit_out_of_band=lambda client, props: client.update_work_queue(
            _queue(client, props).id, concurrency_limit=7
        ),
        delete_out_of_band=lambda client, props: client.delete_work_queue_by_id(_queue(client, props).id),
        exists=_queue_exists,
        bad={"concurrencyLimit": -1},
        bad_property="concurrencyLimit",
    ),
    ResourceCase(
        resource_type="Variable",
        provider=VariableProvider,
        inputs=lambda u: {
            "name": f"ct_{u}_rpa3_max_concurrent_tasks",
            "value": {"width": 5, "tags": ["a", "b"]},
        },
        change={"value": 15},
        held=lambda client, props: client.read_variable_by_name(props["name"]).value,
        changed_value=15,
        edit_out_of_band=lambda client, props: client.update_variable(
            VariableUpdate(name=props["name"], value=99)
        ),
        delete_out_of_band=lambda client, props: client.delete_variable_by_name(props["name"]),
        exists=lambda client, props: client.read_variable_by_name(props["name"]) is not None,
        bad={"name": "Not-Lowercase"},
        bad_property="name",
    ),
    ResourceCase(
        resource_type="GlobalConcurrencyLimit",
        provider=GlobalConcurrencyLimitProvider,
        inputs=lambda u: {"name": f"ct-{u}-erp-api", "limit": 10},
        change={"limit": 20, "slotDecayPerSecond": 20.0},
        held=lambda client, props: client.read_global_concurrency_limit_by_name(props["name"]).limit,
        changed_value=20,
        edit_out_of_band=lambda client, props: client.update_global_concurrency_limit(
            props["name"], GlobalConcurrencyLimitUpdate(limit=1)
        ),
        delete_out_of_band=lambda client, props: client.delete_global_concurrency_limit_by_name(
            props["name"]
        ),
        exists=lambda client, props: _limit_exists(client, props["name"]),
        bad={"name": "erp/api"},
        bad_property="name",
    ),
    ResourceCase(
        resource_type="TaskRunConcurrencyLimit",
        provider=TaskRunConcurrencyLimitProvider,
        inputs=lambda u: {"tag": f"ct-{u}-db-write", "limit": 1},
        change={"limit": 3},
        # Read back through Prefect's own tag API: the resource must be the object that API manages.
        held=lambda client, props: client.read_concurrency_limit_by_tag(props["tag"]).concurrency_limit,
        changed_value=3,
        edit_out_of_band=lambda client, props: client.create_concurrency_limit(props["tag"], 7) and None,
        delete_out_of_band=lambda client, props: client.delete_concurrency_limit_by_tag(props["tag"]),
        exists=lambda client, props: _limit_exists(client, f"tag:{props['tag']}"),
        bad={"limit": -1},
        bad_property="limit",
    ),
]

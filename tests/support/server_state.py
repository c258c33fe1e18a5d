"""A stack's objects as the Prefect server holds them, and as its stack file declares them, in one comparable
shape: {object: {field: value}}. A test compares the two dicts, so a failure shows exactly what differs."""

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import ObjectNotFound

from infra.stack_files.settings import StackSettings

Objects = dict[str, dict[str, Any]]
T = TypeVar("T")


def declared(settings: StackSettings) -> Objects:
    platform = settings.platform
    objects: Objects = {}
    for pool in platform.pools:
        objects[f"pool {settings.pool_name(pool.name)}"] = {
            "type": pool.type,
            "concurrency_limit": pool.concurrency_limit,
            "paused": pool.paused,
        }
    for queue in platform.queues:
        objects[f"queue {settings.pool_name(queue.pool)}/{queue.name}"] = {
            "priority": queue.priority,
            "concurrency_limit": queue.concurrency_limit,
            "paused": queue.paused,
        }
    for key, value in platform.variables.items():
        objects[f"variable {settings.variable_name(key)}"] = {"value": value}
    for limit in platform.concurrency_limits:
        objects[f"limit {settings.limit_name(limit.name)}"] = {
            "limit": limit.limit,
            "active": limit.active,
            "slot_decay_per_second": limit.slot_decay_per_second,
        }
    return objects


def found(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except ObjectNotFound:
        return None


def held(client: SyncPrefectClient, settings: StackSettings) -> Objects:
    """What the server holds under the names `declared` uses; a missing object is absent from the result."""
    platform = settings.platform
    objects: Objects = {}
    for pool in platform.pools:
        name = settings.pool_name(pool.name)
        if held_pool := found(partial(client.read_work_pool, name)):
            objects[f"pool {name}"] = {
                "type": held_pool.type,
                "concurrency_limit": held_pool.concurrency_limit,
                "paused": held_pool.is_paused,
            }
    for queue in platform.queues:
        pool_name = settings.pool_name(queue.pool)
        if held_queue := found(partial(client.read_work_queue_by_name, queue.name, work_pool_name=pool_name)):
            objects[f"queue {pool_name}/{queue.name}"] = {
                "priority": held_queue.priority,
                "concurrency_limit": held_queue.concurrency_limit,
                "paused": held_queue.is_paused,
            }
    for key in platform.variables:
        if variable := client.read_variable_by_name(settings.variable_name(key)):
            objects[f"variable {variable.name}"] = {"value": variable.value}
    for limit in platform.concurrency_limits:
        name = settings.limit_name(limit.name)
        if held_limit := found(partial(client.read_global_concurrency_limit_by_name, name)):
            objects[f"limit {name}"] = {
                "limit": held_limit.limit,
                "active": held_limit.active,
                "slot_decay_per_second": held_limit.slot_decay_per_second or 0.0,
            }
    return objects


def left_on_server(client: SyncPrefectClient, settings: StackSettings) -> list[str]:
    """Pools and global limits named with the stack's prefix and Variables with its environment's: what a
    destroy must remove (a pool's queues go with it)."""
    stack, environment = f"{settings.stack}-", f"{settings.environment}_"
    pools = [f"pool {pool.name}" for pool in client.read_work_pools() if pool.name.startswith(stack)]
    limits = [
        f"limit {limit.name}"
        for limit in client.read_global_concurrency_limits(limit=200)
        if limit.name.startswith(stack)
    ]
    variables = [
        f"variable {variable.name}"
        for variable in client.read_variables()
        if variable.name.startswith(environment)
    ]
    return sorted(pools + limits + variables)

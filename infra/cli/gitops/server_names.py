"""A Pulumi resource as people know it: by the name it has on the Prefect server or the Docker host
(`staging_rpa3_max_concurrent_tasks`, `staging-rpa-docker`, a container's name), not by its URN."""

from collections.abc import Mapping
from typing import Any

from infra.policies.rules import CONTAINER, GLOBAL_LIMIT, TAG_LIMIT, WORK_POOL, WORK_QUEUE

DYNAMIC = "pulumi-python:dynamic/prefect:"
KINDS = {
    WORK_POOL: "pool",
    WORK_QUEUE: "queue",
    f"{DYNAMIC}WorkQueuePriorities": "queue priorities of pool",
    f"{DYNAMIC}Variable": "Variable",
    GLOBAL_LIMIT: "limit",
    TAG_LIMIT: "tag limit",
    CONTAINER: "container",
    "docker:index/remoteImage:RemoteImage": "image",
    "docker:index/volume:Volume": "volume",
    "pulumi:providers:docker": "Docker host",
}
# Not objects on a server: the stack, its components, and the provider that runs the dynamic resources.
NOT_SERVER_OBJECTS = ("pulumi:pulumi:Stack", "pulumi:providers:pulumi-python", "rpa-platform:")


def is_server_object(resource_type: str) -> bool:
    return not resource_type.startswith(NOT_SERVER_OBJECTS)


def kind(resource_type: str) -> str:
    return KINDS.get(resource_type, resource_type)


def server_name(resource_type: str, inputs: Mapping[str, Any], urn: str) -> str:
    if resource_type == WORK_QUEUE:
        return f"{inputs.get('workPoolName')}/{inputs.get('name')}"
    if resource_type == f"{DYNAMIC}WorkQueuePriorities":
        return str(inputs.get("workPoolName"))
    if resource_type == TAG_LIMIT:
        return f"tag:{inputs.get('tag')}"
    if resource_type == "pulumi:providers:docker" and inputs.get("host"):
        return str(inputs["host"])
    return str(inputs.get("name") or urn.rsplit("::", 1)[-1])

"""The worker containers that `pulumi up` made for a copy of the project, seen where they run: on the Docker
engines (found by the API URL they were given, which is the test server's own) and on the Prefect server."""

import time
from collections.abc import Callable
from functools import cache

from docker.models.containers import Container
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import WorkerStatus

import docker
from infra.program.container_spec import LABEL_PREFIX
from infra.stack_files.settings import DEFAULT_DOCKER_HOST

WORKER_LABEL = f"{LABEL_PREFIX}.worker"
LOG_TAIL_LINES = 40


@cache
def engine(host: str) -> docker.DockerClient:
    """One client per engine for the session: containers read through it keep using it."""
    return docker.DockerClient(base_url=host)


def worker_containers(api_url: str, hosts: tuple[str, ...] = (DEFAULT_DOCKER_HOST,)) -> list[Container]:
    """Every worker container on `hosts` that talks to `api_url`, running or not, by name."""
    found = []
    for host in hosts:
        listed = engine(host).containers.list(all=True, filters={"label": WORKER_LABEL}, ignore_removed=True)
        for container in listed:
            if f"PREFECT_API_URL={api_url}" in container.attrs["Config"]["Env"]:
                found.append(container)
    return sorted(found, key=lambda container: container.name)


def remove_worker_containers(api_url: str, hosts: tuple[str, ...] = (DEFAULT_DOCKER_HOST,)) -> list[str]:
    """What a failed `destroy` left behind, removed: the next test's engine starts clean."""
    try:
        left = worker_containers(api_url, hosts)
    except docker.errors.DockerException:
        return []  # No engine answers: no container can have been made.
    for container in left:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            continue  # gone between the listing and the removal
    return [container.name for container in left]


def health(container: Container) -> str | None:
    """Its health status now; None once it is gone (`up` removes old generations while tests look)."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return None
    return container.attrs["State"].get("Health", {}).get("Status")


def healthy_workers(api_url: str, hosts: tuple[str, ...] = (DEFAULT_DOCKER_HOST,)) -> list[str]:
    """The worker containers that are running and report healthy, by name."""
    return [
        container.name
        for container in worker_containers(api_url, hosts)
        if container.status == "running" and health(container) == "healthy"
    ]


def online_workers(client: SyncPrefectClient, pool: str) -> set[str]:
    return {w.name for w in client.read_workers_for_work_pool(pool) if w.status == WorkerStatus.ONLINE}


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, explain: Callable[[], str] = lambda: ""
) -> None:
    """Poll until `condition` holds; on timeout fail with what was awaited and `explain()` (logs, states)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{explain()}")


def logs_of(api_url: str, hosts: tuple[str, ...] = (DEFAULT_DOCKER_HOST,)) -> str:
    """The last lines of every worker container of the copy, for failure messages."""
    parts = []
    for container in worker_containers(api_url, hosts):
        try:
            tail = container.logs(tail=LOG_TAIL_LINES).decode(errors="replace")
        except docker.errors.NotFound:
            continue
        parts.append(f"--- {container.name} ({container.status}, {health(container)})\n{tail}")
    return "\n".join(parts) or "(no worker containers)"

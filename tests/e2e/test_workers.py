"""The dev stack for real: `pulumi up` makes its Prefect objects, and its worker containers, launched from the
very specs the program declares, register with the pool Pulumi made and report healthy; and they change
nothing Pulumi manages."""

import time
from collections.abc import Callable, Iterator

import pytest
from docker.models.containers import Container
from prefect.client.orchestration import SyncPrefectClient

from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from infra.worker_spec import WorkerContainerSpec, worker_container_specs
from tests.support.docker_workers import docker_client_or_fail, start_worker, with_dev_workers
from tests.support.prefect_server import free_port
from tests.support.pulumi_cli import PulumiProject

pytestmark = pytest.mark.docker

RunningStack = tuple[StackSettings, list[WorkerContainerSpec], list[Container]]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def running_stack(project: PulumiProject) -> Iterator[RunningStack]:
    image = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"]
    docker_client = docker_client_or_fail(str(image))
    project.up("dev")
    settings = with_dev_workers(project, replicas=2, poll_seconds=2, health_port=free_port())
    specs = worker_container_specs(settings)
    containers = []
    try:
        containers = [start_worker(docker_client, spec) for spec in specs]
        yield settings, specs, containers
    finally:
        for container in containers:
            container.remove(force=True)


def test_workers_register_with_their_pool_and_report_healthy(
    running_stack: RunningStack, project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    settings, specs, containers = running_stack
    pool = settings.pool_name("rpa-docker")

    def online_workers() -> set[str]:
        return {w.name for w in cli_client.read_workers_for_work_pool(pool) if w.status.value == "ONLINE"}

    def health() -> list[str]:
        for container in containers:
            container.reload()
        return [container.attrs["State"].get("Health", {}).get("Status") for container in containers]

    wait_for(lambda: online_workers() == {spec.name for spec in specs}, 90, f"both workers online in {pool}")
    wait_for(lambda: health() == ["healthy", "healthy"], 90, "both containers healthy")

    for spec, container in zip(specs, containers, strict=True):
        host_config = container.attrs["HostConfig"]
        assert container.status == "running"
        assert host_config["NetworkMode"] == "host"
        assert host_config["Privileged"] is False
        assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
        assert "/var/run/docker.sock:/var/run/docker.sock:rw" in host_config["Binds"]
        assert host_config["Memory"] == spec.memory_mb * 2**20
        assert container.labels["rpa-platform.stack"] == settings.stack
        assert container.labels["rpa-platform.pool"] == pool

    # Running workers change nothing Pulumi manages: a refreshed preview proposes nothing.
    project.preview("dev", "--refresh", "--expect-no-changes")

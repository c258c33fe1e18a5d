"""The dev stack's worker containers, launched from the very specs the Pulumi program declares, on a real
Docker engine against the real Prefect server: they register with their pool and report healthy."""

import time
from collections.abc import Iterator

import pytest
from prefect.client.orchestration import SyncPrefectClient

import docker
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from infra.worker_spec import WorkerContainerSpec, worker_container_specs
from tests.support.docker_workers import docker_client_or_fail, start_worker
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.provider_protocol import DynamicProviderProcess
from tests.support.stack_up import PrefectObjects

pytestmark = pytest.mark.docker


def e2e_settings(server: PrefectServer, unique: str) -> StackSettings:
    """The dev stack file, pointed at the test server under a unique stack name, with two fast-polling
    replicas on free health ports."""
    settings = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml")
    workers = [
        worker.model_copy(update={"replicas": 2, "poll_seconds": 2, "health_port": free_port()})
        for worker in settings.platform.workers
    ]
    platform = settings.platform.model_copy(update={"workers": workers})
    config = settings.config.model_copy(update={"prefect_api_url": server.api_url, "platform": platform})
    return StackSettings(stack=f"e2e{unique}", source=settings.source, config=config)


@pytest.fixture
def docker_client() -> docker.DockerClient:
    return docker_client_or_fail(
        from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"]
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def running_stack(
    prefect_server: PrefectServer,
    provider_process: DynamicProviderProcess,
    docker_client: docker.DockerClient,
    unique: str,
) -> Iterator[tuple[StackSettings, PrefectObjects, list[WorkerContainerSpec], list]]:
    settings = e2e_settings(prefect_server, unique)
    objects = PrefectObjects(provider_process, settings)
    containers = []
    try:
        assert set(objects.up()) == {"create"}
        specs = worker_container_specs(settings)
        containers = [start_worker(docker_client, spec) for spec in specs]
        yield settings, objects, specs, containers
    finally:
        for container in containers:
            container.remove(force=True)
        objects.destroy()


def test_workers_register_with_their_pool_and_report_healthy(
    running_stack: tuple[StackSettings, PrefectObjects, list[WorkerContainerSpec], list],
    client: SyncPrefectClient,
) -> None:
    settings, objects, specs, containers = running_stack
    pool = settings.pool_name("rpa-docker")

    def online_workers() -> set[str]:
        return {w.name for w in client.read_workers_for_work_pool(pool) if w.status.value == "ONLINE"}

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

    # The objects Pulumi would converge are still exactly as declared: a second `up` changes nothing.
    assert set(objects.up()) == {"same"}

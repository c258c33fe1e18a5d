"""The dev stack for real: `pulumi up` makes its Prefect objects, and its worker containers, launched from the
very pulumi-docker Container inputs the program declares, register with the pool Pulumi made, report healthy
and run as the stack says (health check, memory, restart policy, labels, mounts, host network); and they
change nothing Pulumi manages."""

import time
from collections.abc import Callable, Iterator

import pytest
from docker.models.containers import Container
from prefect.client.orchestration import SyncPrefectClient

from infra.docker_rules import memory_bytes
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from infra.worker_spec import WorkerContainerSpec, worker_container_specs
from tests.support.docker_workers import (
    declared_containers,
    docker_client_or_fail,
    launched,
    with_dev_workers,
)
from tests.support.prefect_server import free_port
from tests.support.pulumi_cli import PulumiProject

pytestmark = pytest.mark.docker

SECOND_NS = 10**9
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
    docker_client_or_fail(str(image))
    project.up("dev")
    settings = with_dev_workers(project, replicas=2, poll_seconds=2, health_port=free_port())
    specs = worker_container_specs(settings)
    declared = declared_containers(settings)
    assert [container.name for container in declared] == [spec.name for spec in specs]
    with launched(declared) as containers:
        yield settings, specs, containers


def test_workers_run_as_declared_register_with_their_pool_and_report_healthy(
    running_stack: RunningStack, project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    settings, specs, containers = running_stack
    pool = settings.pool_name("rpa-docker")

    # What Docker reports against what the stack and its specs say, not against the inputs workers.py
    # derived from them: a mapping broken there shows here. Checked first: it fails fast.
    (worker,) = settings.platform.workers
    assert worker.mem_limit, "the dev stack limits its workers' memory"
    for spec, container in zip(specs, containers, strict=True):
        config, host_config = container.attrs["Config"], container.attrs["HostConfig"]
        assert container.name == spec.name
        assert config["Cmd"] == spec.command
        assert {f"{key}={value}" for key, value in spec.env.items()} <= set(config["Env"])
        assert config["Healthcheck"] == {
            "Test": spec.healthcheck.test,
            "Interval": spec.healthcheck.interval_seconds * SECOND_NS,
            "Timeout": spec.healthcheck.timeout_seconds * SECOND_NS,
            "StartPeriod": spec.healthcheck.start_period_seconds * SECOND_NS,
            "Retries": spec.healthcheck.retries,
        }
        assert host_config["Memory"] == memory_bytes(worker.mem_limit)
        assert host_config["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
        assert container.labels.items() >= spec.labels.items(), "the image's labels come on top"
        assert container.labels["rpa-platform.stack"] == settings.stack
        assert container.labels["rpa-platform.pool"] == pool
        mounts = [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in container.attrs["Mounts"]]
        assert mounts == [("bind", "/var/run/docker.sock", "/var/run/docker.sock", True)]
        assert host_config["NetworkMode"] == "host"
        assert host_config["Privileged"] is False

    def online_workers() -> set[str]:
        return {w.name for w in cli_client.read_workers_for_work_pool(pool) if w.status.value == "ONLINE"}

    def health() -> list[str]:
        for container in containers:
            container.reload()
        return [container.attrs["State"].get("Health", {}).get("Status") for container in containers]

    wait_for(lambda: online_workers() == {spec.name for spec in specs}, 90, f"both workers online in {pool}")
    # The first probe comes one declared interval (30 s) after the start: the test waits for it rather than
    # launching anything other than what the program declares.
    wait_for(lambda: health() == ["healthy", "healthy"], 90, "both containers healthy")
    assert all(container.status == "running" for container in containers)

    # Running workers change nothing Pulumi manages: a refreshed preview proposes nothing.
    project.preview("dev", "--refresh", "--expect-no-changes")

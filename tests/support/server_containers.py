"""A stack's own Prefect server exactly as the Pulumi program declares it, launched on a real Docker engine:
its named volumes, then PostgreSQL and the server, each created from its `docker:index/container:Container`
inputs (tests/support/pulumi_docker_container.py) and, as pulumi-docker does with `wait`, waited for until
its health check reports healthy. Everything is removed on the way out, volumes included, even on failure."""

import base64
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import dill
from docker.models.containers import Container

import docker
from infra.rpa_platform import RpaPlatform
from infra.settings import StackSettings
from tests.support.docker_workers import DeclaredContainer, DockerHosts, wait_until_running
from tests.support.pulumi_docker_container import container_launch
from tests.support.pulumi_program import run_under_mocks

VOLUME = "docker:index/volume:Volume"
PREFECT_TYPE = "pulumi-python:dynamic/prefect:"


@dataclass(frozen=True)
class DeclaredResource:
    """A Prefect object as the program declares it: its type's short name, its inputs and its provider."""

    resource_type: str
    name: str
    inputs: dict[str, Any]
    provider: object


@dataclass(frozen=True)
class DeclaredServer:
    docker_host: str
    volumes: list[dict[str, Any]]
    containers: list[DeclaredContainer]
    """PostgreSQL, then the server: the order of their dependency."""
    prefect_objects: list[DeclaredResource]
    """In declaration order, which is an order their dependencies allow (pools before their queues)."""


def declared_server(settings: StackSettings) -> DeclaredServer:
    """What the program declares for a stack with its own server (and no workers)."""
    hosts = DockerHosts()
    try:
        run_under_mocks(
            settings.stack, {}, lambda: RpaPlatform("rpa-platform", settings) and None, inventory=hosts
        )
        containers = hosts.containers()
        (docker_host,) = {container.docker_host for container in containers}
        return DeclaredServer(
            docker_host=docker_host,
            volumes=[resource.inputs for resource in hosts.of_type(VOLUME)],
            containers=containers,
            prefect_objects=[
                DeclaredResource(
                    resource.type.removeprefix(PREFECT_TYPE),
                    resource.name,
                    {key: value for key, value in resource.inputs.items() if key != "__provider"},
                    unpickled_provider(resource.inputs["__provider"]),
                )
                for resource in hosts.resources
                if resource.type.startswith(PREFECT_TYPE)
            ],
        )
    finally:
        for client in hosts.clients.values():
            client.close()


def unpickled_provider(serialized: Any) -> object:
    """The provider object the engine would hand the dynamic-provider process (as it is pickled in state)."""
    text = serialized["value"] if isinstance(serialized, dict) else serialized
    return dill.loads(base64.b64decode(text))


@dataclass
class RunningServer:
    client: docker.DockerClient
    database: Container
    server: Container
    wait_seconds: dict[str, int]

    def restart_server(self) -> float:
        """`docker restart` the server container, then wait as `up` would for it to be healthy again;
        returns how long it took."""
        started = time.monotonic()
        self.server.restart()
        wait_until_healthy(self.server, self.wait_seconds[self.server.name])
        return time.monotonic() - started


@contextmanager
def launched_server(declared: DeclaredServer) -> Iterator[RunningServer]:
    client = docker.DockerClient(base_url=declared.docker_host)
    with ExitStack() as cleanup:
        cleanup.callback(client.close)
        for volume in declared.volumes:
            labels = {entry["label"]: entry["value"] for entry in volume.get("labels", [])}
            made = client.volumes.create(name=volume["name"], labels=labels)
            cleanup.callback(made.remove, force=True)
        containers: list[Container] = []
        waits: dict[str, int] = {}
        for declared_container in declared.containers:
            launch = container_launch(declared_container.inputs)
            container = client.containers.create(**launch.create_kwargs)
            cleanup.callback(container.remove, force=True)
            container.start()
            if launch.must_run:
                wait_until_running(container)
            if launch.wait_seconds is not None:
                wait_until_healthy(container, launch.wait_seconds)
                waits[container.name] = launch.wait_seconds
            containers.append(container)
        database, server = containers
        yield RunningServer(client, database, server, waits)


def wait_until_healthy(container: Container, timeout: float) -> None:
    """pulumi-docker's `wait`: the create fails unless the health check reports healthy within the timeout
    (an unhealthy report fails it at once)."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        container.reload()
        status = container.attrs["State"].get("Health", {}).get("Status")
        if status == "healthy":
            return
        if status == "unhealthy" or container.status not in ("created", "running", "restarting"):
            break
        time.sleep(1)
    logs = container.logs(tail=40).decode(errors="replace")
    raise AssertionError(
        f"container {container.name} is {container.status}, health {status}, not healthy within "
        f"{timeout:.0f} s:\n{logs}"
    )

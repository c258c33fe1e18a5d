"""The worker containers exactly as the Pulumi program declares them, launched on a real Docker engine.

The program's own code (RpaPlatform -> infra/workers.py) runs under Pulumi's mocks; the inputs of each
`docker:index/container:Container` it declares are what the engine would hand pulumi-docker's provider, and
tests/support/pulumi_docker_container.py turns them into the Docker API call that provider makes. (Its plugin
cannot be had on this machine: tools/pulumi/FACTS.md.)"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from docker.models.containers import Container
from pulumi.runtime import MockResourceArgs
from pulumi.runtime.rpc import unwrap_rpc_secret

import docker
from infra.rpa_platform import RpaPlatform
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from tests.support.pulumi_cli import PulumiProject
from tests.support.pulumi_docker_container import container_launch
from tests.support.pulumi_program import REMOTE_IMAGE, Inventory, run_under_mocks

CONTAINER = "docker:index/container:Container"
DOCKER_PROVIDER = "pulumi:providers:docker"
MUST_RUN_WAIT_SECONDS = 15
"""How long the provider waits for a mustRun container to be running (containerReadRefreshTimeout)."""


def docker_client_or_fail(image: str) -> docker.DockerClient:
    """A client for the local engine. In CI (RPA_REQUIRE_DOCKER=1) a missing engine or image fails the test;
    elsewhere it skips, saying what is missing."""
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(image)
    except Exception as error:
        reason = f"needs a Docker engine and the image {image} (`make image`): {error}"
        if os.environ.get("RPA_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return client


@dataclass(frozen=True)
class DeclaredContainer:
    docker_host: str
    """The `host` of the container's explicit pulumi-docker Provider."""
    inputs: dict[str, Any]
    """As the engine hands them to the provider: camelCase names, numbers as floats, secrets in clear."""

    @property
    def name(self) -> str:
        return str(self.inputs["name"])


@dataclass
class DockerHosts(Inventory):
    """Mocks that answer as pulumi-docker does on the hosts themselves: a RemoteImage kept locally is the
    host's local image, and its `imageId` (what Containers are created from) is that image's ID."""

    clients: dict[str, docker.DockerClient] = field(default_factory=dict)

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == REMOTE_IMAGE:
            outputs["imageId"] = self.client(self.host(args.provider)).images.get(args.inputs["name"]).id
        return resource_id, outputs

    def client(self, host: str) -> docker.DockerClient:
        if host not in self.clients:
            self.clients[host] = docker.DockerClient(base_url=host)
        return self.clients[host]

    def host(self, provider_reference: str | None) -> str:
        """The host of the explicit Provider a reference ('URN::ID') points to; workers.py always gives one."""
        if not provider_reference:
            raise AssertionError("a docker resource without an explicit provider: which host would it be on?")
        name = provider_reference.split("::")[-2]
        (provider,) = (r for r in self.of_type(DOCKER_PROVIDER) if r.name == name)
        return str(provider.inputs["host"])

    def containers(self) -> list[DeclaredContainer]:
        return [
            DeclaredContainer(self.host(resource.provider), in_clear(resource.inputs))
            for resource in self.resources
            if resource.type == CONTAINER
        ]


def in_clear(value: Any) -> Any:
    """Mocks see secrets wrapped (envs with an API key); the provider receives them decrypted."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: in_clear(item) for key, item in value.items()}
    if isinstance(value, list):
        return [in_clear(item) for item in value]
    return value


def declared_containers(settings: StackSettings) -> list[DeclaredContainer]:
    """The worker Containers the program declares for these settings, in declaration order."""
    hosts = DockerHosts()
    try:
        run_under_mocks(
            settings.stack, {}, lambda: RpaPlatform("rpa-platform", settings) and None, inventory=hosts
        )
        return hosts.containers()
    finally:
        for client in hosts.clients.values():
            client.close()


@contextmanager
def launched(declared: list[DeclaredContainer]) -> Iterator[list[Container]]:
    """Create and start each container as the provider would, on its own host; removed on the way out, even
    when a later one fails to start."""
    clients: dict[str, docker.DockerClient] = {}
    containers: list[Container] = []
    try:
        for container in declared:
            if container.docker_host not in clients:
                clients[container.docker_host] = docker.DockerClient(base_url=container.docker_host)
            launch = container_launch(container.inputs)
            containers.append(clients[container.docker_host].containers.create(**launch.create_kwargs))
            containers[-1].start()
            if launch.must_run:
                wait_until_running(containers[-1])
        yield containers
    finally:
        for container in containers:
            container.remove(force=True)
        for client in clients.values():
            client.close()


def wait_until_running(container: Container) -> None:
    """mustRun: the provider fails the create when the container is not running (it exited at once)."""
    deadline = time.monotonic() + MUST_RUN_WAIT_SECONDS
    container.reload()
    while container.status == "created" and time.monotonic() < deadline:
        time.sleep(0.1)
        container.reload()
    if container.status != "running":
        logs = container.logs(tail=40).decode(errors="replace")
        raise AssertionError(f"container {container.name} is {container.status}, not running:\n{logs}")


def with_dev_workers(project: PulumiProject, **changes: Any) -> StackSettings:
    """The copy's dev stack (its server, no workers) with the shipped dev stack's workers back, changed."""
    settings = from_stack_file(project.stack_file("dev"))
    shipped = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.workers
    platform = settings.platform.model_copy(
        update={"workers": [w.model_copy(update=changes) for w in shipped]}
    )
    return StackSettings(
        stack="dev", source=settings.source, config=settings.config.model_copy(update={"platform": platform})
    )

"""Launch WorkerContainerSpecs on a real Docker engine with the Docker SDK, field for field as the Pulumi
program hands them to pulumi-docker (whose plugin cannot be had on this machine: tools/pulumi/FACTS.md)."""

import os
from typing import Any

import pytest
from docker.models.containers import Container

import docker
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from infra.worker_spec import WorkerContainerSpec
from tests.support.pulumi_cli import PulumiProject

NANOSECONDS = 1_000_000_000


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


def run_kwargs(spec: WorkerContainerSpec) -> dict[str, Any]:
    environment = {**spec.env, **{key: value.get_secret_value() for key, value in spec.secret_env.items()}}
    return {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "environment": environment,
        "labels": spec.labels,
        "network_mode": spec.network_mode,
        "volumes": {host: {"bind": path, "mode": "rw"} for host, path in spec.volumes},
        "restart_policy": {"Name": spec.restart},
        "privileged": spec.privileged,
        "mem_limit": f"{spec.memory_mb}m" if spec.memory_mb else None,
        "healthcheck": {
            "test": spec.healthcheck.test,
            # Probed every 2 s instead of the spec's 30: a test should not wait half a minute for the first one.
            "interval": 2 * NANOSECONDS,
            "timeout": spec.healthcheck.timeout_seconds * NANOSECONDS,
            "retries": spec.healthcheck.retries,
            "start_period": spec.healthcheck.start_period_seconds * NANOSECONDS,
        },
        "detach": True,
    }


def start_worker(client: docker.DockerClient, spec: WorkerContainerSpec) -> Container:
    return client.containers.run(**run_kwargs(spec))


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

"""A ContainerSpec as a pulumi-docker Container: the one place the project's containers are declared. What
differs between a worker and a server (how it is replaced, what it waits for) comes in with `opts`."""

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from infra.program.container_healthcheck import healthcheck_args
from infra.program.container_spec import ContainerSpec


def docker_container(
    spec: ContainerSpec,
    image: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    volume_names: Mapping[str, pulumi.Input[str]] | None = None,
) -> docker.Container:
    """`volume_names`: the Docker volumes of the spec's named volumes, by name (so the container depends on
    them)."""
    plain = [f"{key}={value}" for key, value in spec.env.items()]
    secret = [f"{key}={value.get_secret_value()}" for key, value in spec.secret_env.items()]
    # Credentials live in the environment: then the whole of it is a secret, encrypted in state.
    envs: pulumi.Input[list[str]] = pulumi.Output.secret(plain + secret) if secret else plain
    volumes = [docker.ContainerVolumeArgs(host_path=host, container_path=path) for host, path in spec.binds]
    volumes += [
        docker.ContainerVolumeArgs(volume_name=(volume_names or {})[volume], container_path=path)
        for volume, path in spec.named_volumes.items()
    ]
    return docker.Container(
        spec.container_name,
        name=spec.container_name,
        image=image,
        command=spec.command,
        envs=envs,
        labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in spec.labels.items()],
        network_mode=spec.network_mode,
        volumes=volumes,
        uploads=[docker.ContainerUploadArgs(file=path, content=text) for path, text in spec.uploads.items()]
        or None,
        restart=spec.restart,
        privileged=spec.privileged,
        memory=spec.memory_mb,
        memory_swap=spec.memory_swap_mb,
        healthcheck=healthcheck_args(spec.healthcheck),
        must_run=True,
        # Healthy before what depends on it is declared, and before a previous generation is deleted.
        wait=True,
        wait_timeout=spec.wait_timeout_seconds,
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(additional_secret_outputs=["envs"]), opts),
    )

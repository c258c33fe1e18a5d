"""Prefect worker containers on Docker hosts (pulumi-docker): one provider per host, the image kept locally,
one container per replica, each exactly its WorkerContainerSpec. A container is named by its generation, so
a changed worker is a new resource that Pulumi creates before it deletes the old one."""

import re

import pulumi
import pulumi_docker as docker

from infra.container_healthcheck import healthcheck_args
from infra.worker_spec import WORKER_START_SECONDS, WorkerContainerSpec


def resource_slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]+", "-", text).strip("-")


class Workers(pulumi.ComponentResource):
    """The worker containers of one stack."""

    def __init__(
        self, name: str, specs: list[WorkerContainerSpec], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("rpa-platform:index:Workers", name, None, opts)
        self.docker_providers: dict[str, docker.Provider] = {}
        self.images: dict[tuple[str, str], docker.RemoteImage] = {}
        self.containers = [self._container(spec) for spec in specs]
        self.register_outputs({"containerNames": [container.name for container in self.containers]})

    def _docker_provider(self, host: str) -> docker.Provider:
        if host not in self.docker_providers:
            self.docker_providers[host] = docker.Provider(
                f"docker-{resource_slug(host)}", host=host, opts=pulumi.ResourceOptions(parent=self)
            )
        return self.docker_providers[host]

    def _kept_image(self, host: str, image: str) -> docker.RemoteImage:
        key = (host, image)
        if key not in self.images:
            # Kept locally: destroying the stack must not delete an image other stacks or flow runs use.
            self.images[key] = docker.RemoteImage(
                f"image-{resource_slug(host)}-{resource_slug(image)}",
                name=image,
                keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self, provider=self._docker_provider(host)),
            )
        return self.images[key]

    def _container(self, spec: WorkerContainerSpec) -> docker.Container:
        plain = [f"{key}={value}" for key, value in spec.env.items()]
        secret = [f"{key}={value.get_secret_value()}" for key, value in spec.secret_env.items()]
        envs: pulumi.Input[list[str]] = pulumi.Output.secret(plain + secret) if secret else plain
        return docker.Container(
            spec.container_name,
            name=spec.container_name,
            image=self._kept_image(spec.docker_host, spec.image).image_id,
            command=spec.command,
            envs=envs,
            labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in spec.labels.items()],
            network_mode=spec.network_mode,
            volumes=[
                docker.ContainerVolumeArgs(host_path=host, container_path=path) for host, path in spec.volumes
            ],
            restart=spec.restart,
            privileged=spec.privileged,
            memory=spec.memory_mb,
            memory_swap=spec.memory_swap_mb,
            healthcheck=healthcheck_args(spec.healthcheck),
            must_run=True,
            # Healthy (the worker process up and serving) before the previous generation is deleted, so that
            # one keeps polling until this one runs.
            wait=True,
            wait_timeout=WORKER_START_SECONDS,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self._docker_provider(spec.docker_host),
                # The API key lives in the container's environment: keep it encrypted in state.
                additional_secret_outputs=["envs"],
                # A worker rolls when its spec changes (a new generation in its name), not when the image
                # behind its tag is rebuilt: the worker process runs only Prefect, and every flow run starts
                # a container of the tag's current image anyway.
                ignore_changes=["image"],
            ),
        )

"""Prefect worker containers on Docker hosts (pulumi-docker): one provider per host, the image kept locally,
one container per replica, each exactly its WorkerContainerSpec. A container is named by its generation, so
a changed worker is a new resource that Pulumi creates before it deletes the old one."""

import re

import pulumi
import pulumi_docker as docker

from infra.program.docker_container import docker_container
from infra.program.worker_spec import WorkerContainerSpec


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
        return docker_container(
            spec,
            self._kept_image(spec.docker_host, spec.image).image_id,
            pulumi.ResourceOptions(
                parent=self,
                provider=self._docker_provider(spec.docker_host),
                # A worker rolls when its spec changes (a new generation in its name), not when the image
                # behind its tag is rebuilt: the worker process runs only Prefect, and every flow run starts
                # a container of the tag's current image anyway.
                ignore_changes=["image"],
            ),
        )

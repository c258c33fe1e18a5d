"""A stack's own Prefect server (pulumi-docker): PostgreSQL and the Prefect server, each exactly its
ContainerSpec, each on its named volume, each waited for until healthy."""

import pulumi
import pulumi_docker as docker

from infra.program.container_spec import ContainerSpec
from infra.program.docker_container import docker_container
from infra.program.server_spec import ServerSpec
from infra.program.workers import resource_slug


class PrefectServer(pulumi.ComponentResource):
    """The stack's Prefect server and its database. `api` is the server container: whatever talks to the API
    depends on it, and `up` creates it only once the server reports healthy."""

    def __init__(self, name: str, spec: ServerSpec, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rpa-platform:index:PrefectServer", name, None, opts)
        self.docker_provider = docker.Provider(
            f"{name}-docker-{resource_slug(spec.docker_host)}",
            host=spec.docker_host,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.images = {
            image: docker.RemoteImage(
                f"{name}-image-{resource_slug(image)}",
                name=image,
                # Kept locally: destroying the stack must not delete an image other stacks use.
                keep_locally=True,
                opts=self._on_host(),
            )
            for image in spec.images
        }
        self.volumes = {
            volume: docker.Volume(
                volume,
                name=volume,
                labels=[docker.VolumeLabelArgs(label="rpa-platform.stack", value=pulumi.get_stack())],
                # The database and the leases are the platform's history: `pulumi destroy` leaves them, and a
                # later `up` takes them up again (`docker volume rm` drops them for good).
                opts=self._on_host(pulumi.ResourceOptions(retain_on_delete=True)),
            )
            for volume in spec.volumes
        }
        self.database = self._container(spec.database, [])
        self.api = self._container(spec.server, [self.database])
        self.url = spec.api_url
        self.register_outputs({"url": self.url, "containerNames": [self.database.name, self.api.name]})

    def _on_host(self, options: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        on_host = pulumi.ResourceOptions(parent=self, provider=self.docker_provider)
        return pulumi.ResourceOptions.merge(on_host, options) if options else on_host

    def _container(self, spec: ContainerSpec, after: list[pulumi.Resource]) -> docker.Container:
        return docker_container(
            spec,
            self.images[spec.image].image_id,
            self._on_host(
                pulumi.ResourceOptions(
                    depends_on=after,
                    # Its name and its port are fixed: a replacement must free them first.
                    delete_before_replace=True,
                )
            ),
            volume_names={volume: self.volumes[volume].name for volume in spec.named_volumes},
        )

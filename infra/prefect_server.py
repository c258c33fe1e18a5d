"""A stack's own Prefect server (pulumi-docker): PostgreSQL and the Prefect server, each exactly its
ServerContainerSpec, each on its named volume, each waited for until healthy."""

import pulumi
import pulumi_docker as docker

from infra.container_healthcheck import healthcheck_args
from infra.server_spec import ServerContainerSpec, ServerSpec
from infra.workers import resource_slug


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

    def _container(self, spec: ServerContainerSpec, after: list[pulumi.Resource]) -> docker.Container:
        plain = [f"{key}={value}" for key, value in spec.env.items()]
        secret = [f"{key}={value.get_secret_value()}" for key, value in spec.secret_env.items()]
        return docker.Container(
            spec.name,
            name=spec.name,
            image=self.images[spec.image].image_id,
            command=spec.command,
            # The password (and the URL that holds it) is in the environment: the whole of it is a secret.
            envs=pulumi.Output.secret(plain + secret),
            labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in spec.labels.items()],
            network_mode=spec.network_mode,
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=self.volumes[spec.volume].name, container_path=spec.volume_path
                )
            ],
            uploads=[
                docker.ContainerUploadArgs(file=path, content=text) for path, text in spec.uploads.items()
            ],
            restart=spec.restart,
            healthcheck=healthcheck_args(spec.healthcheck),
            must_run=True,
            wait=True,
            wait_timeout=spec.wait_timeout_seconds,
            opts=self._on_host(
                pulumi.ResourceOptions(
                    depends_on=after,
                    additional_secret_outputs=["envs"],
                    # Its name and its port are fixed: a replacement must free them first.
                    delete_before_replace=True,
                )
            ),
        )

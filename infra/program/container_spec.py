"""What one container this project runs on a Docker host is (a Prefect worker, a stack's Prefect server, its
database): a pure value, made from the stack settings by worker_spec and server_spec, and turned into a
pulumi-docker Container in one place (infra/program/docker_container.py)."""

from dataclasses import dataclass, field

from pydantic import SecretStr

LABEL_PREFIX = "rpa-platform"


@dataclass(frozen=True)
class HealthCheck:
    test: list[str]
    interval_seconds: int = 30
    timeout_seconds: int = 10
    retries: int = 3
    start_period_seconds: int = 30
    """A worker needs a few seconds to import Prefect and register before its endpoint answers."""


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    name: str
    image: str
    docker_host: str
    command: list[str]
    env: dict[str, str]
    secret_env: dict[str, SecretStr]
    """Credentials: kept apart so that Pulumi stores them encrypted and nothing prints them."""
    labels: dict[str, str]
    healthcheck: HealthCheck
    wait_timeout_seconds: int
    """`up` waits this long for the container to report healthy: a bound on a hang, not on speed."""
    binds: list[tuple[str, str]] = field(default_factory=list)
    """(path on the Docker host, path in the container)."""
    named_volumes: dict[str, str] = field(default_factory=dict)
    """Named volume -> path in the container: state that outlives the container."""
    uploads: dict[str, str] = field(default_factory=dict)
    """Files written into the container before it starts: path -> text."""
    memory_mb: int | None = None
    network_mode: str = "host"
    restart: str = "unless-stopped"
    privileged: bool = field(default=False, init=False)
    """None of them needs it: workers start flow-run containers through the mounted Docker socket."""

    @property
    def container_name(self) -> str:
        """Its name on its Docker host (and its resource's name in the stack)."""
        return self.name

    @property
    def memory_swap_mb(self) -> int | None:
        """Memory plus swap: no swap. Left unset, Docker stores twice the memory and the provider reads that
        back, a change on every preview."""
        return self.memory_mb

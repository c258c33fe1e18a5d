"""What each Prefect worker container is, as a pure function of the stack settings.

Pulumi turns these specs into pulumi-docker Containers (infra/workers.py); tests launch those Containers'
inputs on a real Docker engine, so what is tested is what `pulumi up` runs.
"""

from collections import Counter
from dataclasses import dataclass, field

from pydantic import SecretStr

import rpa_naming
from infra.docker_rules import memory_bytes
from infra.settings import StackSettings, WorkerSettings

CONTAINER_DOCKER_SOCKET = "/var/run/docker.sock"
LABEL_PREFIX = "rpa-platform"


@dataclass(frozen=True)
class HealthCheck:
    test: list[str]
    interval_seconds: int = 30
    timeout_seconds: int = 10
    retries: int = 3
    start_period_seconds: int = 30
    """A worker needs a few seconds to import Prefect and register before its endpoint answers."""


@dataclass(frozen=True)
class WorkerContainerSpec:
    name: str
    stack: str
    pool: str
    """The pool's full name on the Prefect server."""
    replica: int
    image: str
    docker_host: str
    command: list[str]
    env: dict[str, str]
    secret_env: dict[str, SecretStr]
    """Credentials: kept apart so that Pulumi stores them encrypted and nothing prints them."""
    labels: dict[str, str]
    network_mode: str
    volumes: list[tuple[str, str]]
    """(path on the Docker host, path in the container)."""
    health_port: int
    healthcheck: HealthCheck
    memory_mb: int | None
    restart: str = "unless-stopped"
    privileged: bool = field(default=False, init=False)
    """Workers never need it: they start flow-run containers through the mounted Docker socket."""


def worker_container_specs(settings: StackSettings) -> list[WorkerContainerSpec]:
    """One per replica. Replicas are numbered across a pool's worker entries (a pool's workers on two Docker
    hosts are two entries): Prefect tells workers apart by name alone, so two named alike would be one."""
    specs = []
    numbered: Counter[str] = Counter()
    for worker in settings.platform.workers:
        for replica in range(1, worker.replicas + 1):
            numbered[worker.pool] += 1
            specs.append(worker_container_spec(settings, worker, replica, numbered[worker.pool]))
    return specs


def worker_container_spec(
    settings: StackSettings, worker: WorkerSettings, replica: int, number: int
) -> WorkerContainerSpec:
    """`replica`: within its entry (its health port's offset); `number`: within its pool (its name)."""
    pool = settings.pool(worker.pool)
    pool_name = settings.pool_name(pool.name)
    name = rpa_naming.worker_name(settings.stack, pool.name, number)
    health_port = worker.health_port + replica - 1
    health_url = f"http://127.0.0.1:{health_port}/health"
    # Docker workers start flow-run containers through the host's engine.
    volumes = (
        [(docker_socket_on_host(worker.docker_host), CONTAINER_DOCKER_SOCKET)]
        if pool.type == "docker"
        else []
    )
    command = ["prefect", "worker", "start", "--pool", pool_name, "--type", pool.type]
    command += ["--limit", str(worker.limit), "--name", name, "--with-healthcheck"]
    # The pool is the stack's to create: a worker that made a missing one would mask an out-of-band delete
    # and race the pool's replacement.
    command += ["--no-create-pool-if-not-found"]
    for queue in worker.queues:
        command += ["--work-queue", queue]
    env = {
        "PREFECT_API_URL": settings.config.prefect_api_url,
        "PREFECT_WORKER_WEBSERVER_HOST": "127.0.0.1",
        "PREFECT_WORKER_WEBSERVER_PORT": str(health_port),
        "DO_NOT_TRACK": "1",
        **({"PREFECT_WORKER_QUERY_SECONDS": str(worker.poll_seconds)} if worker.poll_seconds else {}),
        **worker.env,
    }
    secret_env = {
        variable: value
        for variable, value in (
            ("PREFECT_API_KEY", settings.config.prefect_api_key),
            ("PREFECT_API_AUTH_STRING", settings.config.prefect_auth_string),
        )
        if value is not None
    }
    return WorkerContainerSpec(
        name=name,
        stack=settings.stack,
        pool=pool_name,
        replica=number,
        image=settings.worker_image(worker),
        docker_host=worker.docker_host,
        command=command,
        env=env,
        secret_env=secret_env,
        labels={
            f"{LABEL_PREFIX}.stack": settings.stack,
            f"{LABEL_PREFIX}.environment": settings.environment,
            f"{LABEL_PREFIX}.pool": pool_name,
            f"{LABEL_PREFIX}.replica": str(number),
        },
        network_mode=worker.network_mode,
        volumes=volumes,
        health_port=health_port,
        healthcheck=HealthCheck(
            [
                "CMD",
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen({health_url!r}, timeout=5)",
            ]
        ),
        memory_mb=memory_in_mb(worker.mem_limit) if worker.mem_limit else None,
    )


def docker_socket_on_host(docker_host: str) -> str:
    """The socket a docker worker uses to start flow-run containers, on the host it runs on."""
    return (
        docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else CONTAINER_DOCKER_SOCKET
    )


def memory_in_mb(limit: str) -> int:
    """'2g' -> 2048, '512m' -> 512 (pulumi-docker takes megabytes; validation made `limit` a size)."""
    return max(1, (memory_bytes(limit) or 0) // 2**20)

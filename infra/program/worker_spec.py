"""What each Prefect worker container is, as a pure function of the stack settings (infra/program/workers.py
declares them)."""

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass

import rpa_naming
from infra.docker_rules import memory_bytes
from infra.program.container_spec import LABEL_PREFIX, ContainerSpec, HealthCheck
from infra.stack_files.settings import StackSettings, WorkerSettings

CONTAINER_DOCKER_SOCKET = "/var/run/docker.sock"


# The worker's health endpoint listens on a port the system picks (PREFECT_WORKER_WEBSERVER_PORT=0), so that a
# worker's next generation can start beside it on a host network; the probe finds that port from the sockets
# the container's own processes listen on (/proc/net/tcp is the host's table, /proc/*/fd the container's).
HEALTH_PROBE = """
import os, sys, urllib.request
inodes = set()
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        continue
    for fd in fds:
        try:
            link = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue
        if link.startswith('socket:['):
            inodes.add(link[8:-1])
rows = [row.split() for row in open('/proc/net/tcp').read().splitlines()[1:]]
for port in [int(row[1].split(':')[1], 16) for row in rows if row[3] == '0A' and row[9] in inodes]:
    try:
        urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=5)
        sys.exit(0)
    except OSError:
        pass
sys.exit('no health endpoint answers')
""".strip()


WORKER_PROBE_SECONDS = 10
"""`up` waits for a new worker's first healthy probe before it removes the old one: this is that wait."""
WORKER_START_SECONDS = 120
"""How long `up` waits for a new worker to report healthy: a bound on a hang, not on speed."""


@dataclass(frozen=True, kw_only=True)
class WorkerContainerSpec(ContainerSpec):
    """A worker: `name` is its name in Prefect, which tells workers apart by name alone."""

    stack: str
    pool: str
    """The pool's full name on the Prefect server."""
    replica: int

    @property
    def container_name(self) -> str:
        """The worker's name and its generation: a change to the container (its image, command, health check,
        memory ...) makes a new name, so the new worker starts before the old one is removed. Credentials are
        left out of the generation (a digest of a secret is no place for it): rotating them replaces the
        containers in place, delete-first, with the pool briefly without a worker."""
        generation = {**asdict(self), "secret_env": sorted(self.secret_env)}
        digest = hashlib.sha256(json.dumps(generation, sort_keys=True).encode()).hexdigest()
        return f"{self.name}-{digest[:8]}"


def worker_container_specs(settings: StackSettings) -> list[WorkerContainerSpec]:
    """One per replica. Replicas are numbered across a pool's worker entries (a pool's workers on two Docker
    hosts are two entries): Prefect tells workers apart by name alone, so two named alike would be one."""
    specs = []
    numbered: Counter[str] = Counter()
    for worker in settings.platform.workers:
        for _ in range(worker.replicas):
            numbered[worker.pool] += 1
            specs.append(worker_container_spec(settings, worker, numbered[worker.pool]))
    return specs


def worker_container_spec(
    settings: StackSettings, worker: WorkerSettings, number: int
) -> WorkerContainerSpec:
    """`number`: the worker's within its pool (its name)."""
    pool = settings.pool(worker.pool)
    pool_name = settings.pool_name(pool.name)
    name = rpa_naming.worker_name(settings.stack, pool.name, number)
    # Docker workers start flow-run containers through the host's engine.
    binds = (
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
        "PREFECT_WORKER_WEBSERVER_PORT": "0",
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
            f"{LABEL_PREFIX}.worker": name,
        },
        network_mode=worker.network_mode,
        binds=binds,
        healthcheck=HealthCheck(["CMD", "python", "-c", HEALTH_PROBE], interval_seconds=WORKER_PROBE_SECONDS),
        wait_timeout_seconds=WORKER_START_SECONDS,
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

"""A stack that brings its own Prefect server, through the real engine: `pulumi up` (pulumi-docker's plugin)
creates PostgreSQL and the Prefect server as containers (host network, 127.0.0.1 only, named volumes, health
checks waited for), then the stack's Prefect objects on that server, found in its PostgreSQL database.
Nothing drifts afterwards, the database password is nowhere in plaintext, a concurrency lease outlives a
`docker restart` of the server container, and `pulumi destroy` removes the containers but keeps the volumes.

Without Docker or the pinned CLI these tests skip, unless RPA_REQUIRE_DOCKER=1 / RPA_REQUIRE_PULUMI_CLI=1
(CI), where they fail."""

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from docker.models.containers import Container
from prefect.client.orchestration import SyncPrefectClient

import docker
from infra import config_keys
from infra.program.server_spec import SERVER_HOME, ServerSpec, server_spec
from infra.stack_files.settings import ServerSettings, StackSettings
from infra.stack_files.stack_config import from_stack_file, read_stack_document
from tests.support.docker_hosts import docker_client_or_fail
from tests.support.ports import free_port
from tests.support.pulumi_cli import PLATFORM_KEY, PulumiProject, Result
from tests.support.self_hosted_stack import EXAMPLE
from tests.support.stack_workers import engine, health, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]  # 1-2 min: up, the drift checks, a restart, destroy

LEASE_SECONDS = 300  # far longer than a restart: the lease must be known, not merely unexpired
TCP_LISTEN = "0A"
LOCALHOST_HEX = "0100007F"
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class SelfHostedStack:
    project: PulumiProject
    name: str
    settings: StackSettings
    """As the stack file holds them: the password stays encrypted."""
    spec: ServerSpec
    password: str
    engine: docker.DockerClient
    up: Result
    up_seconds: float

    @property
    def server(self) -> ServerSettings:
        assert self.settings.config.server is not None
        return self.settings.config.server

    @property
    def api_url(self) -> str:
        return self.settings.config.prefect_api_url

    def container(self, name: str) -> Container:
        return self.engine.containers.get(name)

    def database(self) -> psycopg.Connection:
        database = self.server.database
        return psycopg.connect(
            host="127.0.0.1",
            port=database.port,
            user=database.user,
            password=self.password,
            dbname=database.name,
            connect_timeout=10,
        )


def write_stack_file(project: PulumiProject, stack: str, server_port: int, database_port: int) -> None:
    """The example's stack file in the copy, its server on the given ports, without its worker (workers are
    test_workers.py's); the password is set apart, as a secret."""
    document = read_stack_document(EXAMPLE)
    config = document["config"]
    config[config_keys.qualified(config_keys.API_URL)] = f"http://127.0.0.1:{server_port}/api"
    server = config[config_keys.qualified(config_keys.SERVER)]
    server["port"] = server_port
    server["database"]["port"] = database_port
    config[PLATFORM_KEY].pop("workers")
    project.write_stack_file(stack, document)


def removed(client: docker.DockerClient, spec: ServerSpec) -> None:
    """The stack's containers and volumes gone from the engine, whatever `up` and `destroy` left."""
    for name in (spec.server.name, spec.database.name):
        with suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
    for volume in spec.volumes:
        with suppress(docker.errors.NotFound):
            client.volumes.get(volume).remove(force=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SelfHostedStack]:
    """The example stack on free ports, under a name of its own (its containers and volumes are named from
    it), brought up once for the module's tests; its containers and volumes are removed afterwards, whatever
    happened."""
    name = f"selfhosted-{uuid.uuid4().hex[:6]}"
    server_port, database_port = free_port(), free_port()
    project = PulumiProject.copy(
        tmp_path_factory.mktemp("self-hosted"), f"http://127.0.0.1:{server_port}/api"
    )
    write_stack_file(project, name, server_port, database_port)
    project.init(name)
    password = f"{secrets.token_urlsafe(12)}:/@ %"  # what a URL must escape: the server's URL carries it
    project.pulumi(
        "config",
        "set",
        "--secret",
        "--stack",
        name,
        config_keys.qualified(config_keys.SERVER_DATABASE_PASSWORD),
        input_text=password,  # on standard input: in no process's arguments either
    )
    settings = from_stack_file(project.stack_file(name))
    spec = server_spec(settings)
    assert spec is not None
    for image in spec.images:
        docker_client_or_fail(image).close()
    client = engine(spec.docker_host)
    try:
        started = time.monotonic()
        up = project.up(name, "--policy-pack", "infra/policies")
        up_seconds = time.monotonic() - started
        yield SelfHostedStack(project, name, settings, spec, password, client, up, up_seconds)
    finally:
        removed(client, spec)


def test_up_creates_the_server_on_postgresql_with_the_stacks_objects(stack: SelfHostedStack) -> None:
    print(f"`pulumi up` of {stack.name}: {stack.up_seconds:.1f} s")
    spec, settings = stack.spec, stack.settings
    for container_spec in (spec.database, spec.server):
        container = stack.container(container_spec.name)
        host_config = container.attrs["HostConfig"]
        assert host_config["NetworkMode"] == "host"
        assert host_config["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
        assert health(container) == "healthy"
        assert container.attrs["Config"]["Cmd"] == container_spec.command
        assert container.labels.items() >= container_spec.labels.items()
        (mount,) = container.attrs["Mounts"]
        assert {mount["Name"]: mount["Destination"]} == container_spec.named_volumes and mount[
            "Type"
        ] == "volume"
    assert listening_addresses(stack.server.port) == {LOCALHOST_HEX}, "the API listens on 127.0.0.1 only"
    assert listening_addresses(stack.server.database.port) == {LOCALHOST_HEX}, "so does PostgreSQL"
    assert stack.project.outputs(stack.name)["serverContainers"] == [spec.database.name, spec.server.name]

    with SyncPrefectClient(stack.api_url) as client:
        pool = client.read_work_pool(settings.pool_name("rpa-docker"))
        assert (pool.type, pool.concurrency_limit) == ("docker", 4)
        queues = {q.name: q.concurrency_limit for q in client.read_work_queues(pool.name)}
        assert (queues["critical"], queues["batch"]) == (2, 4)
        limit = client.read_global_concurrency_limit_by_name(settings.limit_name("erp-api"))
        assert (limit.limit, limit.active, limit.active_slots) == (5, True, 0)
        assert client.read_variable_by_name("development_rpa3_max_concurrent_tasks").value == 5

    # What the server holds is in its PostgreSQL database, reached with the secret the stack was given.
    with stack.database() as database:
        assert str(database.execute("select version()").fetchone()[0]).startswith("PostgreSQL 15")
        pools = {row[0] for row in database.execute("select name from work_pool")}
        limits = dict(database.execute('select name, "limit" from concurrency_limit_v2').fetchall())
    assert settings.pool_name("rpa-docker") in pools
    assert limits[settings.limit_name("erp-api")] == 5


def test_nothing_drifts_and_the_password_is_nowhere_in_plaintext(stack: SelfHostedStack) -> None:
    # Neither the program's inputs nor what refresh reads back from Docker and Prefect differ from the state.
    printed = [
        stack.up,
        stack.project.preview(stack.name, "--expect-no-changes"),
        stack.project.refresh(stack.name, "--expect-no-changes"),
        stack.project.preview(stack.name, "--refresh", "--expect-no-changes"),
    ]
    places = {f"output of `pulumi {' '.join(result.args[1:])}`": result.output for result in printed}
    places["pulumi stack export"] = json.dumps(stack.project.export(stack.name))
    places["pulumi stack output"] = json.dumps(stack.project.outputs(stack.name))
    places |= {
        str(path): path.read_text(errors="replace")
        for path in stack.project.state.rglob("*")
        if path.is_file()
    }
    places[stack.project.stack_file(stack.name).name] = stack.project.stack_file(stack.name).read_text()
    for place, text in places.items():
        for secret in (stack.password, quote(stack.password, safe="")):
            assert secret not in text, f"the database password in plaintext in {place}"


def test_a_lease_outlives_a_restart_of_the_server_container(stack: SelfHostedStack) -> None:
    assert stack.server.lease_storage == "filesystem"
    server = stack.container(stack.spec.server.name)
    outcome = lease_across_restart(
        stack.api_url, stack.settings.limit_name("erp-api"), server, stack.spec.server.wait_timeout_seconds
    )
    print(outcome)
    assert outcome.slots_before_restart == 1
    assert outcome.slots_after_restart == 1
    assert outcome.renew_status == 204, "the restarted server still knows the lease"
    assert outcome.slots_after_release == 0, "releasing it frees the slot"
    # The server ran the project's lease storage, uploaded into an image that does not ship it, on its volume.
    storage = "import prefect.settings as s; print(s.get_current_settings().server.concurrency.lease_storage)"
    code, output = server.exec_run(["python", "-c", f"import local_prefect_server.lease_files; {storage}"])
    assert (code, output.decode().strip()) == (0, "local_prefect_server.lease_files"), output
    code, output = server.exec_run(["test", "-d", f"{SERVER_HOME}/concurrency_leases"])
    assert code == 0, output


def test_destroy_removes_the_containers_and_keeps_the_volumes(stack: SelfHostedStack) -> None:
    stack.project.destroy(stack.name)
    assert not stack.project.export(stack.name)["deployment"].get("resources")
    for name in (stack.spec.database.name, stack.spec.server.name):
        with pytest.raises(docker.errors.NotFound):
            stack.container(name)
    # The database and the leases are the platform's history: only `docker volume rm` drops them.
    kept = stack.engine.volumes.list(filters={"label": f"rpa-platform.stack={stack.name}"})
    assert sorted(volume.name for volume in kept) == sorted(stack.spec.volumes), "destroy kept the volumes"


@dataclass(frozen=True)
class LeaseOutcome:
    slots_before_restart: int
    restart_seconds: float
    slots_after_restart: int
    renew_status: int
    slots_after_release: int


def lease_across_restart(api_url: str, limit: str, server: Container, timeout: float) -> LeaseOutcome:
    """Take a lease on `limit`, restart the server container, renew the lease, release it; the active slots
    at each step."""
    with SyncPrefectClient(api_url) as client:
        taken = client.increment_concurrency_slots_with_lease(
            names=[limit], slots=1, mode="concurrency", lease_duration=LEASE_SECONDS
        )
        lease_id = uuid.UUID(taken.json()["lease_id"])
        before = client.read_global_concurrency_limit_by_name(limit).active_slots
    restart_seconds = restarted(server, timeout)
    with SyncPrefectClient(api_url) as client:
        after = client.read_global_concurrency_limit_by_name(limit).active_slots
        renew_status = renew(client, lease_id)
        client.release_concurrency_slots_with_lease(lease_id)
        released = client.read_global_concurrency_limit_by_name(limit).active_slots
    return LeaseOutcome(before, round(restart_seconds, 1), after, renew_status, released)


def restarted(container: Container, timeout: float) -> float:
    """`docker restart`, then wait, as `up` waits, for the health check to report healthy; how long it took."""
    started = time.monotonic()
    container.restart()
    wait_for(
        lambda: health(container) == "healthy",
        timeout,
        f"{container.name} healthy after its restart",
        lambda: container.logs(tail=LOG_TAIL_LINES).decode(errors="replace"),
    )
    return time.monotonic() - started


def renew(client: SyncPrefectClient, lease_id: uuid.UUID) -> int:
    """The renewal's HTTP status (204 renewed, 410 the server does not know the lease)."""
    try:
        return client.renew_concurrency_lease(lease_id, lease_duration=LEASE_SECONDS).status_code
    except Exception as error:  # httpx.HTTPStatusError: the client raises for 4xx
        response = getattr(error, "response", None)
        if response is None:
            raise
        return int(response.status_code)


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) sockets listen on at `port`: with host
    networking the containers' sockets are the host's."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == TCP_LISTEN and int(hex_port, 16) == port:
                addresses.add(address)
    return addresses

"""A stack that brings its own Prefect server, for real: PostgreSQL and the Prefect server launched from the
very pulumi-docker inputs the program declares (host network, 127.0.0.1 only, named volumes, health checks
waited for), the stack's Prefect objects applied to that server through the dynamic providers, found in its
PostgreSQL database; then a concurrency lease that outlives a `docker restart` of the server container.

Without Docker these tests skip, unless RPA_REQUIRE_DOCKER=1 (CI), where they fail."""

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import SyncPrefectClient

import docker
from infra import config_keys
from infra.settings import StackSettings
from tests.support.prefect_server import free_port
from tests.support.provider_protocol import DynamicProviderProcess, EngineStack
from tests.support.self_hosted_stack import example_settings
from tests.support.server_containers import (
    DeclaredServer,
    RunningServer,
    declared_server,
    launched_server,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]  # about 40 s: two containers, a restart

LEASE_SECONDS = 300  # far longer than a restart: the lease must be known, not merely unexpired
TCP_LISTEN = "0A"
LOCALHOST_HEX = "0100007F"


@dataclass(frozen=True)
class SelfHostedStack:
    settings: StackSettings
    declared: DeclaredServer
    running: RunningServer
    password: str

    @property
    def api_url(self) -> str:
        return self.settings.config.prefect_api_url

    def database(self) -> psycopg.Connection:
        server = self.settings.config.server
        assert server is not None
        return psycopg.connect(
            host="127.0.0.1",
            port=server.database.port,
            user=server.database.user,
            password=self.password,
            dbname=server.database.name,
            connect_timeout=10,
        )


def images_or_fail(*images: str) -> None:
    """In CI (RPA_REQUIRE_DOCKER=1) a missing engine or image fails the test; elsewhere it skips."""
    try:
        client = docker.from_env()
        client.ping()
        for image in images:
            client.images.get(image)
        client.close()
    except Exception as error:
        reason = (
            f"needs a Docker engine and the images {', '.join(images)} (`make image`, "
            f"docker/build-postgres-image.sh): {error}"
        )
        if os.environ.get("RPA_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SelfHostedStack]:
    """The example stack's server on free ports, launched as declared, with the stack's Prefect objects
    applied to it as `pulumi up` applies them (check, create) through the dynamic-provider process."""
    password = f"{secrets.token_urlsafe(12)}:/@ %"
    settings = example_settings(server_port=free_port(), database_port=free_port(), password=password)
    server = settings.config.server
    assert server is not None
    images_or_fail(server.image, server.database.image)
    declared = declared_server(settings)
    log_dir = tmp_path_factory.mktemp("self-hosted")
    with launched_server(declared) as running:
        apply_prefect_objects(settings, declared, log_dir / "provider.log")
        yield SelfHostedStack(settings, declared, running, password)


def apply_prefect_objects(settings: StackSettings, declared: DeclaredServer, log_path: Path) -> None:
    provider = DynamicProviderProcess(log_path=log_path)
    provider.start()
    try:
        provider.configure({config_keys.qualified(config_keys.API_URL): settings.config.prefect_api_url})
        for resource in declared.prefect_objects:
            engine = EngineStack(provider, resource.resource_type, resource.name, resource.provider)
            assert engine.up(resource.inputs) == "create", resource.name
    finally:
        provider.stop()
    assert settings.config.server_database_password is not None
    secret = settings.config.server_database_password.get_secret_value()
    assert secret not in log_path.read_text(errors="replace"), "the provider never sees the password"


def test_the_server_runs_as_declared_on_postgresql_with_the_stacks_objects(stack: SelfHostedStack) -> None:
    settings, running = stack.settings, stack.running
    server = settings.config.server
    assert server is not None

    for container, volume in (
        (running.database, "/var/lib/postgresql/data"),
        (running.server, "/var/lib/prefect"),
    ):
        container.reload()
        host_config = container.attrs["HostConfig"]
        assert host_config["NetworkMode"] == "host"
        assert host_config["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        (mount,) = container.attrs["Mounts"]
        assert (mount["Type"], mount["Destination"]) == ("volume", volume)
        assert mount["Name"] == f"{container.name}-{'data' if 'postgres' in container.name else 'home'}"
    assert listening_addresses(server.port) == {LOCALHOST_HEX}, "the API listens on 127.0.0.1 only"
    assert listening_addresses(server.database.port) == {LOCALHOST_HEX}, "so does PostgreSQL"

    with SyncPrefectClient(stack.api_url) as client:
        pool = client.read_work_pool(settings.pool_name("rpa-docker"))
        assert (pool.type, pool.concurrency_limit) == ("docker", 4)
        queues = {q.name: q.concurrency_limit for q in client.read_work_queues(pool.name)}
        assert (queues["critical"], queues["batch"]) == (2, 4)
        limit = client.read_global_concurrency_limit_by_name(settings.limit_name("erp-api"))
        assert (limit.limit, limit.active, limit.active_slots) == (5, True, 0)
        assert client.read_variable_by_name("development_rpa3_max_concurrent_tasks").value == 5

    # What the server holds is in its PostgreSQL database.
    with stack.database() as database:
        assert str(database.execute("select version()").fetchone()[0]).startswith("PostgreSQL 15")
        pools = {row[0] for row in database.execute("select name from work_pool")}
        limits = dict(database.execute('select name, "limit" from concurrency_limit_v2').fetchall())
    assert settings.pool_name("rpa-docker") in pools
    assert limits[settings.limit_name("erp-api")] == 5


def test_a_lease_outlives_a_restart_of_the_server_container(stack: SelfHostedStack) -> None:
    outcome = lease_across_restart(stack.api_url, stack.settings.limit_name("erp-api"), stack.running)
    print(outcome)
    assert outcome.slots_before_restart == 1
    assert outcome.slots_after_restart == 1
    assert outcome.renew_status == 204, "the restarted server still knows the lease"
    assert outcome.slots_after_release == 0, "releasing it frees the slot"
    assert stack.settings.config.server is not None
    assert stack.settings.config.server.lease_storage == "filesystem"
    # The lease was on the volume, as the filesystem storage keeps it.
    _, output = stack.running.server.exec_run(["ls", "/var/lib/prefect/concurrency_leases"])
    assert b"expirations.json" in output


@dataclass(frozen=True)
class LeaseOutcome:
    slots_before_restart: int
    restart_seconds: float
    slots_after_restart: int
    renew_status: int
    slots_after_release: int


def lease_across_restart(api_url: str, limit: str, running: RunningServer) -> LeaseOutcome:
    """Take a lease on `limit`, restart the server container, renew the lease, release it; the active slots
    at each step."""
    with SyncPrefectClient(api_url) as client:
        taken = client.increment_concurrency_slots_with_lease(
            names=[limit], slots=1, mode="concurrency", lease_duration=LEASE_SECONDS
        )
        lease_id = uuid.UUID(taken.json()["lease_id"])
        before = client.read_global_concurrency_limit_by_name(limit).active_slots
    restart_seconds = running.restart_server()
    with SyncPrefectClient(api_url) as client:
        after = client.read_global_concurrency_limit_by_name(limit).active_slots
        renew_status = renew(client, lease_id)
        client.release_concurrency_slots_with_lease(lease_id)
        released = client.read_global_concurrency_limit_by_name(limit).active_slots
    return LeaseOutcome(before, round(restart_seconds, 1), after, renew_status, released)


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

"""What a stack's own Prefect server is, as a pure function of its settings: a PostgreSQL container and a
Prefect server container, each with its named volume, on the Docker host of this machine; Pulumi turns these
specs into pulumi-docker resources (infra/program/prefect_server.py)."""

from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import quote

from pydantic import SecretStr

from infra.program.container_spec import LABEL_PREFIX, ContainerSpec, HealthCheck
from infra.stack_files.settings import LOCALHOST, ServerSettings, StackSettings
from local_prefect_server.server_settings import SERVICE_SETTINGS

DATABASE_DATA = "/var/lib/postgresql/data"
SERVER_HOME = "/var/lib/prefect"
"""PREFECT_HOME in the server container: on its volume, with the leases the filesystem storage keeps."""
LEASE_STORAGE_MODULES = {
    "filesystem": "local_prefect_server.lease_files",
    "memory": "prefect.server.concurrency.lease_storage.memory",
}
"""PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE: on disk, the project's lease files (one atomic file per lease,
a dead holder's slots back within seconds); in memory, Prefect's default."""
SERVER_PACKAGES = "/opt/rpa-platform-server"
"""On the server container's PYTHONPATH: the project's lease storage, uploaded, so any Prefect 3.9.1 image
runs it (the public one included)."""
UPLOADED_MODULES = ["local_prefect_server/__init__.py", "local_prefect_server/lease_files.py"]
SERVER_START_SECONDS = 300
"""How long `up` waits for the server to report healthy: its first start migrates an empty database (about
a minute on 2 cores), a bound on a hang, not on speed."""
DATABASE_START_SECONDS = 120


@dataclass(frozen=True)
class ServerSpec:
    """The stack's own server: its API's URL and its two containers (the database first), on one host."""

    api_url: str
    database: ContainerSpec
    server: ContainerSpec

    @property
    def docker_host(self) -> str:
        return self.server.docker_host

    @property
    def volumes(self) -> list[str]:
        return [*self.database.named_volumes, *self.server.named_volumes]

    @property
    def images(self) -> list[str]:
        return list(dict.fromkeys([self.database.image, self.server.image]))


def server_name(stack: str) -> str:
    return f"{stack}-prefect-server"


def database_name(stack: str) -> str:
    return f"{stack}-prefect-postgres"


def server_spec(settings: StackSettings) -> ServerSpec | None:
    """The stack's own server; None when it targets an existing API."""
    server = settings.config.server
    if server is None:
        return None
    password = settings.config.server_database_password
    if password is None:  # Validation refuses this: a guard for callers that skipped it.
        raise ValueError("server: needs the secret serverDatabasePassword")
    labels = {
        f"{LABEL_PREFIX}.stack": settings.stack,
        f"{LABEL_PREFIX}.environment": settings.environment,
    }
    return ServerSpec(
        api_url=server.api_url,
        database=database_container(settings.stack, server, password, labels),
        server=server_container(settings, server, password, labels),
    )


def database_container(
    stack: str, server: ServerSettings, password: SecretStr, labels: dict[str, str]
) -> ContainerSpec:
    database = server.database
    ready = ["pg_isready", "--host", LOCALHOST, "--port", str(database.port), "--username", database.user]
    return ContainerSpec(
        name=database_name(stack),
        image=database.image,
        # The official image listens on every interface unless told otherwise; with host networking that
        # would be every interface of the host.
        command=["postgres", "-c", f"listen_addresses={LOCALHOST}"],
        env={
            "POSTGRES_USER": database.user,
            "POSTGRES_DB": database.name,
            "PGPORT": str(database.port),
            "PGDATA": DATABASE_DATA,
        },
        secret_env={"POSTGRES_PASSWORD": password},
        labels={**labels, f"{LABEL_PREFIX}.role": "prefect-database"},
        docker_host=server.docker_host,
        named_volumes={f"{database_name(stack)}-data": DATABASE_DATA},
        healthcheck=HealthCheck(
            ["CMD", *ready, "--dbname", database.name],
            interval_seconds=5,
            timeout_seconds=5,
            retries=6,
            start_period_seconds=60,
        ),
        wait_timeout_seconds=DATABASE_START_SECONDS,
    )


def server_container(
    settings: StackSettings, server: ServerSettings, password: SecretStr, labels: dict[str, str]
) -> ContainerSpec:
    health_url = f"{server.api_url}/health"  # Open without credentials, even with an auth string.
    secret_env = {"PREFECT_API_DATABASE_CONNECTION_URL": SecretStr(database_url(server, password))}
    if settings.config.prefect_auth_string is not None:
        secret_env["PREFECT_SERVER_API_AUTH_STRING"] = settings.config.prefect_auth_string
    return ContainerSpec(
        name=server_name(settings.stack),
        image=server.image,
        command=["prefect", "server", "start", "--host", LOCALHOST, "--port", str(server.port)],
        env={
            "PREFECT_HOME": SERVER_HOME,
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE_MODULES[server.lease_storage],
            "PYTHONPATH": SERVER_PACKAGES,
            **SERVICE_SETTINGS,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # The UI calls the API at the address the browser reaches it by: this machine's.
            "PREFECT_UI_API_URL": server.api_url,
        },
        secret_env=secret_env,
        labels={**labels, f"{LABEL_PREFIX}.role": "prefect-server"},
        docker_host=server.docker_host,
        named_volumes={f"{server_name(settings.stack)}-home": SERVER_HOME},
        healthcheck=HealthCheck(
            [
                "CMD",
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen({health_url!r}, timeout=5)",
            ],
            interval_seconds=10,
            timeout_seconds=10,
            retries=3,
            start_period_seconds=SERVER_START_SECONDS,
        ),
        wait_timeout_seconds=SERVER_START_SECONDS,
        uploads={f"{SERVER_PACKAGES}/{module}": _project_file(module) for module in UPLOADED_MODULES},
    )


def _project_file(path: str) -> str:
    package, name = path.split("/")
    return files(package).joinpath(name).read_text()


def database_url(server: ServerSettings, password: SecretStr) -> str:
    database = server.database
    secret = quote(password.get_secret_value(), safe="")
    return f"postgresql+asyncpg://{database.user}:{secret}@{LOCALHOST}:{database.port}/{database.name}"

"""Typed, validated settings of one stack: everything `Pulumi.<stack>.yaml` says about its environment.

Validated once, before any resource is declared. Every error names the stack file, the key path and what is
allowed, and all errors are reported together, so one `pulumi preview` shows everything to fix.
"""

import difflib
from collections import Counter
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel, to_snake

import rpa_naming
from infra import config_keys
from infra.docker_rules import container_name_problem, memory_problem
from infra.prefect_resources.bounds import MAX_STORED_INT, Count, Priority, SlotDecay
from infra.prefect_resources.inputs import describe_error, error_path
from infra.problem import Problem
from infra.url_credentials import has_credentials, masked_url

PoolType = Literal["docker", "process"]
LeaseStorage = Literal["filesystem", "memory"]
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://")
DEFAULT_QUEUE = "default"  # Prefect makes it in every pool.
MIN_SERVER_PORT = 1024  # Below it, ports are privileged.
MAX_PORT = 65535
LOCALHOST = "127.0.0.1"
"""Where a stack's own Prefect server and its database listen: host networking, never another interface."""
DEFAULT_SERVER_IMAGE = "prefecthq/prefect:3.9.1-python3.11"
DEFAULT_DATABASE_IMAGE = "postgres:15"
DATABASE_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
"""A PostgreSQL role or database name that needs no quoting anywhere (URL, SQL, shell)."""
MAX_REPLICAS = 100  # Far beyond what one Docker host runs well: a larger number is a typo.
MAX_POLL_SECONDS = 3600
"""A worker's health check fails after 30 missed polls: at one poll an hour, a dead worker already goes
unnoticed for 30 hours."""
# A worker's connection and health endpoint come from the stack's settings; a worker env must not fork them.
RESERVED_WORKER_ENV = frozenset(
    {
        "PREFECT_API_URL",
        "PREFECT_API_KEY",
        "PREFECT_API_AUTH_STRING",
        "PREFECT_WORKER_WEBSERVER_HOST",
        "PREFECT_WORKER_WEBSERVER_PORT",
    }
)


class SettingsError(pulumi.RunError, ValueError):
    """The stack file says something this platform cannot build. Raised before anything changes; a
    `pulumi.RunError`, so that the program stops with this message alone, without a traceback."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {config_keys.key_path(p.property)}: {p.reason}" for p in problems)
        super().__init__(f"{source}: invalid stack settings ({len(problems)} problem(s)):\n{lines}")


def checked_api_url(url: str) -> str:
    if has_credentials(url):
        raise ValueError(
            "must not hold credentials (the URL is shown in outputs and messages): set them with "
            "`pulumi config set --secret prefectApiKey` or `prefectAuthString`"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be http(s)://host[:port]/path, e.g. http://127.0.0.1:4200/api")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= MAX_PORT:
        raise ValueError(f"its port must be from 1 to {MAX_PORT}")
    return url


def checked_memory(size: str) -> str:
    if (problem := memory_problem(size)) is not None:
        raise ValueError(problem)
    return size


class StackModel(BaseModel):
    """camelCase keys as in Pulumi config, strict types (a limit of "5" or 2.5 is an error), typos refused."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True, frozen=True)


class PoolSettings(StackModel):
    name: str = Field(min_length=1)
    """Short name, the pool's role in every stack; on the server it is `<stack>-<name>`."""
    type: PoolType
    concurrency_limit: Count | None = None
    description: str | None = None
    paused: bool = False
    job_defaults: dict[str, JsonValue] = Field(default_factory=dict)
    """Defaults of the job variables every flow run of the pool gets, camelCase (image, networkMode, env,
    memLimit, imagePullPolicy ...)."""
    base_job_template: dict[str, JsonValue] | None = None
    """A whole base job template; when absent, the worker type's default template."""


class QueueSettings(StackModel):
    pool: str
    name: str = Field(min_length=1)
    priority: Priority | None = None
    concurrency_limit: Count | None = None
    description: str | None = None
    paused: bool = False


class WorkerSettings(StackModel):
    pool: str
    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1
    limit: Annotated[int, Field(ge=1, le=MAX_STORED_INT)]
    """Flow runs one worker process runs at once (`prefect worker start --limit`)."""
    queues: list[str] = Field(default_factory=list)
    """Queues of the pool this worker polls; empty means all of them."""
    image: str | None = None
    """Image with prefect and the worker type installed; defaults to the pool's jobDefaults.image."""
    docker_host: str = DEFAULT_DOCKER_HOST
    network_mode: str = "host"
    mem_limit: Annotated[str, AfterValidator(checked_memory)] | None = None
    """Memory limit of each worker container, as Docker writes it: 512m, 2g."""
    poll_seconds: Annotated[int, Field(ge=1, le=MAX_POLL_SECONDS)] | None = None
    """How often the worker asks for runs (PREFECT_WORKER_QUERY_SECONDS; Prefect's default is 10)."""
    env: dict[str, str] = Field(default_factory=dict)


class AdaptiveSettings(StackModel):
    floor: int = Field(ge=1, le=MAX_STORED_INT)
    """The fewest calls a flow run keeps in flight to the service, however badly it answers."""


def unreserved_limit_name(name: str) -> str:
    if name.endswith(rpa_naming.WAITERS_SUFFIX):
        raise ValueError(
            f"a name ending in '{rpa_naming.WAITERS_SUFFIX}' is the runtime's: flow runs waiting for limit "
            f"'{name.removesuffix(rpa_naming.WAITERS_SUFFIX)}' count themselves on it"
        )
    return name


class ConcurrencyLimitSettings(StackModel):
    name: Annotated[str, AfterValidator(unreserved_limit_name)] = Field(min_length=1)
    """Short name of the resource it guards; on the server it is `<stack>-<name>`."""
    limit: Count
    slot_decay_per_second: SlotDecay = 0.0
    """Greater than 0 makes it a rate limit: `limit` slots refill at this many per second."""
    active: bool = True
    adaptive: AdaptiveSettings | None = None
    """Each flow run learns its own share of `limit` from the service's latency and 429s, between `floor` and
    `limit` (the hard ceiling across runs). On the server: the Variable
    `<environment>_<name>_adaptive_floor`."""


class PlatformSettings(StackModel):
    pools: list[PoolSettings] = Field(default_factory=list)
    queues: list[QueueSettings] = Field(default_factory=list)
    workers: list[WorkerSettings] = Field(default_factory=list)
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    """`<flow>_<setting>` -> value; on the server `<environment>_<flow>_<setting>`."""
    concurrency_limits: list[ConcurrencyLimitSettings] = Field(default_factory=list)
    tag_limits: dict[str, Count] = Field(default_factory=dict)
    """Task-run tag -> limit; the tag on the server is `<stack>-<tag>`."""
    adopt_existing: bool = False
    """Take over objects that already exist on the server under this stack's names, instead of failing on
    the clash: set it once when bringing an existing server under this stack, then remove it."""


class ServerDatabaseSettings(StackModel):
    """The self-hosted server's PostgreSQL; its password is the secret `serverDatabasePassword`."""

    image: str = Field(default=DEFAULT_DATABASE_IMAGE, min_length=1)
    """An image with the official postgres image's interface (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
    PGPORT, PGDATA): postgres:15, or docker/postgres built locally (docker/build-postgres-image.sh)."""
    port: int = Field(default=5432, ge=MIN_SERVER_PORT, le=MAX_PORT)
    """On 127.0.0.1 of the Docker host (host networking): choose one no other PostgreSQL there uses."""
    name: str = Field(default="prefect", pattern=DATABASE_IDENTIFIER)
    user: str = Field(default="prefect", pattern=DATABASE_IDENTIFIER)


class ServerSettings(StackModel):
    """A Prefect server of the stack's own, with its PostgreSQL database, as containers on a Docker host of
    this machine (pulumi-docker). Without this section the stack targets an existing API (prefectApiUrl)."""

    port: int = Field(default=4200, ge=MIN_SERVER_PORT, le=MAX_PORT)
    """The API and UI listen on 127.0.0.1:<port>; prefectApiUrl must be http://127.0.0.1:<port>/api."""
    image: str = Field(default=DEFAULT_SERVER_IMAGE, min_length=1)
    """An image with Prefect 3.9.1 and asyncpg (prefecthq/prefect:3.9.1-python3.11, or
    rpa-platform/runtime)."""
    docker_host: str = DEFAULT_DOCKER_HOST
    lease_storage: LeaseStorage = "filesystem"
    """Where the server keeps concurrency leases. `filesystem` (on the server's volume) outlives a restart;
    `memory` (Prefect's default) loses them, and every slot held then stays counted until freed by hand."""
    database: ServerDatabaseSettings = Field(default_factory=ServerDatabaseSettings)

    @property
    def api_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/api"


class StackConfig(StackModel):
    """The project's keys in a stack file (`rpa-platform:<key>`)."""

    prefect_api_url: Annotated[str, AfterValidator(checked_api_url)] = config_keys.DEFAULT_API_URL
    """http(s)://host[:port]/api. Credentials go in prefectApiKey or prefectAuthString (secrets), never here:
    the URL is an output and appears in messages."""
    prefect_api_key: SecretStr | None = None
    prefect_auth_string: SecretStr | None = None
    environment: rpa_naming.Environment
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    server: ServerSettings | None = None
    """The stack's own Prefect server; absent, the stack targets the existing API at prefectApiUrl."""
    server_database_password: SecretStr | None = None


class StackSettings(BaseModel):
    """One stack's validated settings, with the names its objects have on the Prefect server."""

    model_config = ConfigDict(frozen=True)

    stack: str
    source: str
    config: StackConfig

    @property
    def platform(self) -> PlatformSettings:
        return self.config.platform

    @property
    def environment(self) -> str:
        return self.config.environment

    def pool_name(self, pool: str) -> str:
        return rpa_naming.work_pool_name(self.stack, pool)

    def variable_name(self, key: str) -> str:
        return rpa_naming.stack_variable_name(self.environment, key)

    @property
    def server_variables(self) -> dict[str, JsonValue]:
        """Every Variable the stack puts on the server, by key: `variables:`, and the floor of each adaptive
        limit (which the flows read to know it is adaptive)."""
        adaptive = {
            rpa_naming.adaptive_floor_key(limit.name): limit.adaptive.floor
            for limit in self.platform.concurrency_limits
            if limit.adaptive is not None
        }
        return {**self.platform.variables, **adaptive}

    def limit_name(self, name: str) -> str:
        return rpa_naming.concurrency_limit_name(self.stack, name)

    def tag(self, tag: str) -> str:
        return rpa_naming.concurrency_tag(self.stack, tag)

    def pool(self, name: str) -> PoolSettings:
        return next(pool for pool in self.platform.pools if pool.name == name)

    def worker_image(self, worker: WorkerSettings) -> str:
        """The worker's image, or else its pool's job image (validation guarantees one of them)."""
        image = worker.image or self.pool(worker.pool).job_defaults.get("image")
        if not isinstance(image, str):
            raise SettingsError(self.source, [Problem(f"platform.workers.{worker.pool}.image", "required")])
        return image

    def job_defaults(self, pool: PoolSettings) -> dict[str, Any]:
        """The pool's job defaults as template variables (snake_case), with the names a flow run needs to
        find its stack's Variables and limits added to its environment."""
        defaults: dict[str, Any] = {to_snake(key): value for key, value in pool.job_defaults.items()}
        env = defaults.get("env") or {}
        if not isinstance(env, dict):
            return defaults  # Left as written, for the template's schema to refuse with its own words.
        defaults["env"] = {
            **env,
            rpa_naming.STACK_ENV_VAR: self.stack,
            rpa_naming.ENVIRONMENT_ENV_VAR: self.environment,
        }
        return defaults


def parse_config(stack: str, source: str, raw: dict[str, Any]) -> StackSettings:
    """The project's config keys (short form: `platform`, `environment` ...) of one stack, typed. References
    between them, Prefect's rules and the flows' needs are checked on the result (`stack_config`)."""
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as error:
        raise SettingsError(source, schema_problems(error)) from None
    return StackSettings(stack=stack, source=source, config=config)


def schema_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        reason = describe_error(item, show_input=not (loc and loc[0] in config_keys.ENCRYPTED))
        if item["type"] == "extra_forbidden":
            allowed = allowed_keys(StackConfig, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            reason = f"unknown key; {hint}allowed: {', '.join(allowed)}"
        problems.append(Problem(error_path(loc), reason))
    return problems


def allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the stack file may use at `loc` (walks the models along the path)."""
    annotation: Any = model
    for part in loc:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next(f for name, f in annotation.model_fields.items() if (f.alias or name) == part)
            annotation = field.annotation
        while get_origin(annotation) is not None and get_origin(annotation) not in (list, dict):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))  # Optional[X]
        if get_origin(annotation) in (list, dict) and (
            isinstance(part, int) or get_origin(annotation) is dict
        ):
            annotation = get_args(annotation)[-1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def duplicates(values: list[Any]) -> set[Any]:
    return {value for value, count in Counter(values).items() if count > 1}


def reference_problems(settings: StackSettings) -> list[Problem]:
    """Names that must be unique, and references that must point at something the stack defines."""
    platform = settings.platform
    problems: list[Problem] = []
    pool_names = [pool.name for pool in platform.pools]
    defined = ", ".join(pool_names) or "none"
    for name in sorted(duplicates(pool_names)):
        problems.append(Problem("platform.pools", f"pool '{name}' is defined more than once"))
    for name in sorted(duplicates([limit.name for limit in platform.concurrency_limits])):
        problems.append(Problem("platform.concurrencyLimits", f"limit '{name}' is defined more than once"))
    for pool, name in sorted(duplicates([(queue.pool, queue.name) for queue in platform.queues])):
        problems.append(
            Problem("platform.queues", f"queue '{name}' of pool '{pool}' is defined more than once")
        )

    queues_by_pool: dict[str, set[str]] = {}
    for index, queue in enumerate(platform.queues):
        path = f"platform.queues[{index}]"
        queues_by_pool.setdefault(queue.pool, {DEFAULT_QUEUE}).add(queue.name)
        if queue.pool not in pool_names:
            problems.append(
                Problem(f"{path}.pool", f"no pool named '{queue.pool}' is defined (pools: {defined})")
            )
        if queue.name == DEFAULT_QUEUE:
            problems.append(
                Problem(
                    f"{path}.name", f"'{DEFAULT_QUEUE}' is made by Prefect in every pool; choose another name"
                )
            )
    for index, worker in enumerate(platform.workers):
        problems += worker_problems(settings, f"platform.workers[{index}]", worker, queues_by_pool)
    return problems


def worker_problems(
    settings: StackSettings, path: str, worker: WorkerSettings, queues_by_pool: dict[str, set[str]]
) -> list[Problem]:
    pools = [pool.name for pool in settings.platform.pools]
    if worker.pool not in pools:
        return [
            Problem(f"{path}.pool", f"no pool named '{worker.pool}' is defined (pools: {', '.join(pools)})")
        ]
    problems = []
    known = queues_by_pool.get(worker.pool, {DEFAULT_QUEUE})
    for index, queue in enumerate(worker.queues):
        if queue not in known:
            queues = ", ".join(sorted(known))
            problems.append(
                Problem(
                    f"{path}.queues[{index}]",
                    f"pool '{worker.pool}' has no queue '{queue}' (queues: {queues})",
                )
            )
    if worker.image is None and not isinstance(settings.pool(worker.pool).job_defaults.get("image"), str):
        problems.append(Problem(f"{path}.image", f"required: pool '{worker.pool}' has no jobDefaults.image"))
    if not worker.docker_host.startswith(DOCKER_HOST_SCHEMES):
        schemes = ", ".join(DOCKER_HOST_SCHEMES)
        given = masked_url(repr(worker.docker_host))
        problems.append(Problem(f"{path}.dockerHost", f"must start with one of {schemes} (got {given})"))
    # Replicas are numbered across the pool's entries (infra/program/worker_spec.py): the longest name is the
    # last.
    pool_replicas = sum(other.replicas for other in settings.platform.workers if other.pool == worker.pool)
    container = rpa_naming.worker_name(settings.stack, worker.pool, pool_replicas)
    if (problem := container_name_problem(container)) is not None:
        reason = f"its workers' {problem}: give pool '{worker.pool}' a name of those characters"
        problems.append(Problem(f"{path}.pool", reason))
    for variable in sorted(RESERVED_WORKER_ENV & set(worker.env)):
        problems.append(Problem(f"{path}.env.{variable}", "set by the platform from the stack's settings"))
    return problems


def server_problems(settings: StackSettings) -> list[Problem]:
    """The stack's own server: its secret, the URL the stack's objects and workers are sent to, and the
    ports and names it takes on its Docker host."""
    config = settings.config
    server = config.server
    password = config.server_database_password
    if server is None:
        if password is None:
            return []
        return [
            Problem(
                config_keys.SERVER_DATABASE_PASSWORD,
                "only a stack with a `server:` section uses it: add the section or remove the secret",
            )
        ]
    problems = []
    if password is None or not password.get_secret_value():
        problems.append(
            Problem(
                config_keys.SERVER_DATABASE_PASSWORD,
                "required by `server:` (its database's password): pulumi config set --secret "
                f"{config_keys.SERVER_DATABASE_PASSWORD} <password>",
            )
        )
    if config.prefect_api_url != server.api_url:
        problems.append(
            Problem(
                config_keys.API_URL,
                f"must be {server.api_url}, the URL of the stack's own server (server.port "
                f"{server.port}), so that its objects and workers land there (got "
                f"{masked_url(config.prefect_api_url)})",
            )
        )
    if config.prefect_api_key is not None:
        problems.append(
            Problem(
                config_keys.API_KEY,
                "a self-hosted Prefect server takes no API key (Prefect Cloud does): protect it with "
                f"{config_keys.AUTH_STRING} instead",
            )
        )
    if not server.docker_host.startswith("unix://"):
        problems.append(
            Problem(
                "server.dockerHost",
                f"must be a unix:// socket of this machine: the server listens on {LOCALHOST}, which only "
                f"the machine it runs on reaches (got {masked_url(repr(server.docker_host))})",
            )
        )
    if server.database.port == server.port:
        problems.append(
            Problem("server.database.port", f"is server.port too ({server.port}); choose another")
        )
    return problems

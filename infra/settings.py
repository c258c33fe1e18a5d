"""Typed, validated settings of one stack: everything `Pulumi.<stack>.yaml` says about its environment.

Validated once, before any resource is declared. Every error names the stack file, the key path and what is
allowed, and all errors are reported together, so one `pulumi preview` shows everything to fix.
"""

import difflib
from collections import Counter
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel, to_snake

import rpa_naming
from infra import config_keys
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitInputs
from infra.prefect_resources.inputs import Problem, describe_error, error_path
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitInputs
from infra.prefect_resources.variable import VariableInputs
from infra.prefect_resources.work_pool import WorkPoolInputs
from infra.prefect_resources.work_queue import WorkQueueInputs

PoolType = Literal["docker", "process"]
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://")
DEFAULT_QUEUE = "default"  # Prefect makes it in every pool.
MEMORY_PATTERN = r"^[1-9][0-9]*[bkmg]?$"


class SettingsError(ValueError):
    """The stack file says something this platform cannot build. Raised before anything changes."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {config_keys.PROJECT}:{p.property}: {p.reason}" for p in problems)
        super().__init__(f"{source}: invalid stack settings ({len(problems)} problem(s)):\n{lines}")


class StackModel(BaseModel):
    """camelCase keys as in Pulumi config, strict types (a limit of "5" or 2.5 is an error), typos refused."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True, frozen=True)


class PoolSettings(StackModel):
    name: str = Field(min_length=1)
    """Short name, the pool's role in every stack; on the server it is `<stack>-<name>`."""
    type: PoolType
    concurrency_limit: NonNegativeInt | None = None
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
    priority: PositiveInt | None = None
    concurrency_limit: NonNegativeInt | None = None
    description: str | None = None
    paused: bool = False


class WorkerSettings(StackModel):
    pool: str
    replicas: PositiveInt = 1
    limit: PositiveInt
    """Flow runs one worker process runs at once (`prefect worker start --limit`)."""
    queues: list[str] = Field(default_factory=list)
    """Queues of the pool this worker polls; empty means all of them."""
    image: str | None = None
    """Image with prefect and the worker type installed; defaults to the pool's jobDefaults.image."""
    docker_host: str = DEFAULT_DOCKER_HOST
    network_mode: str = "host"
    mem_limit: str | None = Field(default=None, pattern=MEMORY_PATTERN)
    """Memory limit of each worker container, as Docker writes it: 512m, 2g."""
    health_port: int = Field(default=8080, ge=1024, le=65535)
    """Port of the first replica's health endpoint (replica i uses health_port + i). With host networking,
    workers of every stack on one Docker host share the ports: give each stack its own range."""
    poll_seconds: PositiveInt | None = None
    """How often the worker asks for runs (PREFECT_WORKER_QUERY_SECONDS; Prefect's default is 10)."""
    env: dict[str, str] = Field(default_factory=dict)


class ConcurrencyLimitSettings(StackModel):
    name: str = Field(min_length=1)
    """Short name of the resource it guards; on the server it is `<stack>-<name>`."""
    limit: NonNegativeInt
    slot_decay_per_second: Annotated[float, Field(ge=0)] = 0.0
    """Greater than 0 makes it a rate limit: `limit` slots refill at this many per second."""
    active: bool = True


class PlatformSettings(StackModel):
    pools: list[PoolSettings] = Field(default_factory=list)
    queues: list[QueueSettings] = Field(default_factory=list)
    workers: list[WorkerSettings] = Field(default_factory=list)
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    """`<flow>_<setting>` -> value; on the server `<environment>_<flow>_<setting>`."""
    concurrency_limits: list[ConcurrencyLimitSettings] = Field(default_factory=list)
    tag_limits: dict[str, NonNegativeInt] = Field(default_factory=dict)
    """Task-run tag -> limit; the tag on the server is `<stack>-<tag>`."""


class StackConfig(StackModel):
    """The project's keys in a stack file (`rpa-platform:<key>`)."""

    prefect_api_url: str = Field(default=config_keys.DEFAULT_API_URL, pattern=r"^https?://\S+$")
    prefect_api_key: SecretStr | None = None
    prefect_auth_string: SecretStr | None = None
    environment: rpa_naming.Environment
    platform: PlatformSettings = Field(default_factory=PlatformSettings)


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

    def limit_name(self, name: str) -> str:
        return rpa_naming.concurrency_limit_name(self.stack, name)

    def tag(self, tag: str) -> str:
        return rpa_naming.concurrency_tag(self.stack, tag)

    def pool(self, name: str) -> PoolSettings:
        return next(pool for pool in self.platform.pools if pool.name == name)

    def worker_image(self, worker: WorkerSettings) -> str:
        image = worker.image or self.pool(worker.pool).job_defaults.get("image")
        assert isinstance(image, str)  # Guaranteed by validation.
        return image

    def job_defaults(self, pool: PoolSettings) -> dict[str, Any]:
        """The pool's job defaults as template variables (snake_case), with the names a flow run needs to
        find its stack's Variables and limits added to its environment."""
        defaults: dict[str, Any] = {to_snake(key): value for key, value in pool.job_defaults.items()}
        env = defaults.get("env") if isinstance(defaults.get("env"), dict) else {}
        defaults["env"] = {
            **env,
            rpa_naming.STACK_ENV_VAR: self.stack,
            rpa_naming.ENVIRONMENT_ENV_VAR: self.environment,
        }
        return defaults

    def work_pool_inputs(self, pool: PoolSettings) -> WorkPoolInputs:
        return WorkPoolInputs(
            name=self.pool_name(pool.name),
            type=pool.type,
            description=pool.description,
            concurrency_limit=pool.concurrency_limit,
            paused=pool.paused,
            base_job_template=pool.base_job_template,
            job_defaults=self.job_defaults(pool),
        )

    def work_queue_inputs(self, queue: QueueSettings) -> WorkQueueInputs:
        return WorkQueueInputs(
            name=queue.name,
            work_pool_name=self.pool_name(queue.pool),
            priority=queue.priority,
            concurrency_limit=queue.concurrency_limit,
            description=queue.description,
            paused=queue.paused,
        )

    def variable_inputs(self, key: str, value: Any) -> VariableInputs:
        return VariableInputs(name=self.variable_name(key), value=value)

    def concurrency_limit_inputs(self, limit: ConcurrencyLimitSettings) -> GlobalConcurrencyLimitInputs:
        return GlobalConcurrencyLimitInputs(
            name=self.limit_name(limit.name),
            limit=limit.limit,
            active=limit.active,
            slot_decay_per_second=limit.slot_decay_per_second,
        )

    def tag_limit_inputs(self, tag: str, limit: int) -> TaskRunConcurrencyLimitInputs:
        return TaskRunConcurrencyLimitInputs(tag=self.tag(tag), limit=limit)


def parse_stack_settings(stack: str, source: str, raw: dict[str, Any]) -> StackSettings:
    """Validate the project's config keys (short form: `platform`, `environment` ...) of one stack."""
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as error:
        raise SettingsError(source, schema_problems(error)) from None
    settings = StackSettings(stack=stack, source=source, config=config)
    problems = reference_problems(settings) + prefect_problems(settings)
    if problems:
        raise SettingsError(source, problems)
    return settings


def schema_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        reason = describe_error(item, show_input=not (loc and loc[0] in config_keys.SECRETS))
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
        path = f"platform.workers[{index}]"
        if worker.pool not in pool_names:
            problems.append(
                Problem(f"{path}.pool", f"no pool named '{worker.pool}' is defined (pools: {defined})")
            )
            continue
        known = queues_by_pool.get(worker.pool, {DEFAULT_QUEUE})
        for queue_index, queue in enumerate(worker.queues):
            if queue not in known:
                problems.append(
                    Problem(
                        f"{path}.queues[{queue_index}]",
                        f"pool '{worker.pool}' has no queue '{queue}' (queues: {', '.join(sorted(known))})",
                    )
                )
        if worker.image is None and not isinstance(settings.pool(worker.pool).job_defaults.get("image"), str):
            problems.append(
                Problem(
                    f"{path}.image", f"required: pool '{worker.pool}' has no jobDefaults.image to default to"
                )
            )
        if not worker.docker_host.startswith(DOCKER_HOST_SCHEMES):
            problems.append(
                Problem(
                    f"{path}.dockerHost",
                    f"must start with one of {', '.join(DOCKER_HOST_SCHEMES)} (got {worker.docker_host!r})",
                )
            )
    return problems + health_port_problems(platform.workers)


def health_port_problems(workers: list[WorkerSettings]) -> list[Problem]:
    """Host-networked workers on one Docker host share its ports, so their health endpoints must not clash."""
    problems = []
    for index, worker in enumerate(workers):
        ports = set(range(worker.health_port, worker.health_port + worker.replicas))
        for other_index, other in enumerate(workers[:index]):
            shared = (
                other.network_mode == worker.network_mode == "host"
                and other.docker_host == worker.docker_host
            )
            if shared and ports & set(range(other.health_port, other.health_port + other.replicas)):
                problems.append(
                    Problem(
                        f"platform.workers[{index}].healthPort",
                        f"ports {min(ports)}-{max(ports)} overlap those of workers[{other_index}] on the "
                        "same Docker host; choose a free range",
                    )
                )
    return problems


def prefect_problems(settings: StackSettings) -> list[Problem]:
    """What Prefect would refuse once the stack's names are applied, found with the resources' own rules."""
    platform = settings.platform
    problems: list[Problem] = []

    def collect(path: str, inputs: Any, rename: dict[str, str] | None = None) -> None:
        for problem in type(inputs).problems(inputs.to_props()):
            prop = problem.property
            if prop.startswith("jobDefaults."):
                prop = "jobDefaults." + to_camel(prop.removeprefix("jobDefaults."))
            prop = (rename or {}).get(prop, prop)
            problems.append(Problem(f"{path}.{prop}", f"{inputs.label()}: {problem.reason}"))

    pool_names = {pool.name for pool in platform.pools}
    for index, pool in enumerate(platform.pools):
        collect(f"platform.pools[{index}]", settings.work_pool_inputs(pool))
    for index, queue in enumerate(platform.queues):
        if queue.pool in pool_names:
            collect(f"platform.queues[{index}]", settings.work_queue_inputs(queue), {"workPoolName": "pool"})
    for key, value in platform.variables.items():
        for problem in VariableInputs.problems(settings.variable_inputs(key, value).to_props()):
            problems.append(
                Problem(
                    f"platform.variables.{key}", f"variable '{settings.variable_name(key)}': {problem.reason}"
                )
            )
    for index, limit in enumerate(platform.concurrency_limits):
        collect(f"platform.concurrencyLimits[{index}]", settings.concurrency_limit_inputs(limit))
    for tag, limit in platform.tag_limits.items():
        for problem in TaskRunConcurrencyLimitInputs.problems(
            settings.tag_limit_inputs(tag, limit).to_props()
        ):
            problems.append(
                Problem(f"platform.tagLimits.{tag}", f"tag '{settings.tag(tag)}': {problem.reason}")
            )
    return problems

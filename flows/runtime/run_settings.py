"""What a flow run learns about itself at run time: its stack and environment from the flow run's environment
(set by the pool's job template and the deployment's job variables), its sizing from the stack's Prefect
Variables. Nothing here is a constant in flow code: changing a Variable changes the next run, without a
redeploy."""

import logging
from typing import Self
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.context import FlowRunContext
from prefect.logging import get_logger, get_run_logger
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.runtime.errors import FlowEnvironmentError, InvalidVariableError, MissingVariableError
from rpa_naming import (
    ADAPTIVE_RESOURCES,
    ENV_PREFIX,
    ENVIRONMENT_ENV_VAR,
    LOCAL_ENVIRONMENT,
    LOCAL_STACK,
    MAX_CONCURRENT_TASKS,
    STACK_ENV_VAR,
    TIMEOUT,
    Environment,
    adaptive_floor_variable_name,
    flow_variable_name,
)
from rpa_naming.flow_setting_bounds import ADAPTIVE_FLOOR_BOUNDS, FLOW_SETTING_BOUNDS, NumberBounds

# In a flow-run container with host networking 127.0.0.1 is the Docker host, so this default reaches a demo
# ERP on the host; anything else is set per stack in the pool's job variables (`env`).
DEMO_ERP_API_URL = "http://127.0.0.1:8765"
# SQLAlchemy URL: sqlite:///path.db (one writer at a time) or postgresql+psycopg://user:pw@host/db.
LOCAL_DATABASE_URL = "sqlite:///rpa-results.db"

_WIDTH = FLOW_SETTING_BOUNDS[MAX_CONCURRENT_TASKS]
_TIMEOUT = FLOW_SETTING_BOUNDS[TIMEOUT]


class FlowEnvironment(BaseSettings):
    """Every `RPA_*` variable a flow run reads, read in this one place. An empty value counts as unset:
    prefect.yaml's `{{ $VAR }}` templating turns a missing variable into ""."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    # No default here: whether a missing stack may become the dev stack depends on how the run started.
    # The pattern is what every Prefect name derived from the stack accepts (limits refuse `/ % & > <`).
    stack: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    environment: Environment | None = None
    erp_api_url: str = DEMO_ERP_API_URL
    database_url: str = LOCAL_DATABASE_URL

    @classmethod
    def read(cls) -> Self:
        """The current process environment, or a FlowEnvironmentError naming each bad variable."""
        try:
            return cls()
        except ValidationError as error:
            problems = [
                f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}={e['input']!r}: {e['msg']}"
                for e in error.errors()
            ]
            raise FlowEnvironmentError("invalid flow-run environment: " + "; ".join(problems)) from None

    def stack_and_environment(self, deployment_id: UUID | None) -> tuple[str, Environment]:
        """The run's stack and environment. A deployed run without them fails: guessing `dev` would run a
        production deployment against the dev stack's Variables and limits. A local run defaults to the dev
        stack and says so."""
        missing = [
            name
            for name, value in ((STACK_ENV_VAR, self.stack), (ENVIRONMENT_ENV_VAR, self.environment))
            if value is None
        ]
        if missing and deployment_id is not None:
            names = " and ".join(missing)
            raise FlowEnvironmentError(
                f"{names} not set in this flow run of deployment {deployment_id}, and a deployed run never "
                f"falls back to the {LOCAL_STACK!r} stack: set {names} in the deployment's "
                "`job_variables.env` in prefect.yaml, or in the `env` of the work pool's base job template "
                "(`make up` writes it there from Pulumi.<stack>.yaml)"
            )
        stack = self.stack or LOCAL_STACK
        environment = self.environment or LOCAL_ENVIRONMENT
        if missing:
            _logger().warning(
                "%s not set: a local run (not started by a deployment), so it uses stack %r, environment %r; "
                "set %s to run against another stack",
                " and ".join(missing),
                stack,
                environment,
                STACK_ENV_VAR,
            )
        return stack, environment


class RunSettings(BaseModel):
    flow: str
    stack: str
    environment: Environment
    max_concurrent_tasks: int = Field(strict=True, ge=_WIDTH.minimum, le=_WIDTH.maximum)
    # Budget of one external call, waiting for slots and retries included.
    timeout_seconds: float = Field(ge=_TIMEOUT.minimum, le=_TIMEOUT.maximum)
    # Resource -> floor of its adaptive limit; a resource not here has the fixed limit of the stack.
    adaptive_floors: dict[str, int] = Field(default_factory=dict)
    # Where the external systems are (`RPA_ERP_API_URL`, `RPA_DATABASE_URL`).
    erp_api_url: str = DEMO_ERP_API_URL
    database_url: str = LOCAL_DATABASE_URL

    @classmethod
    def load(cls, flow: str) -> Self:
        """Every `RPA_*` setting, read once: stack and environment from `RPA_STACK` / `RPA_ENVIRONMENT`
        (checked before any server call, so a misconfigured deployment fails at once), the systems' URLs; then
        the Variables `<environment>_<flow>_max_concurrent_tasks` and `<environment>_<flow>_timeout`, each
        checked by the same rule as the stack file's values, and which limits are adaptive
        (`<environment>_<resource>_adaptive_floor`, absent for a fixed limit)."""
        run_environment = FlowEnvironment.read()
        stack, environment = run_environment.stack_and_environment(_deployment_id())
        with get_client(sync_client=True) as client:
            values = {
                setting: _variable(
                    client, flow_variable_name(environment, flow, setting), FLOW_SETTING_BOUNDS[setting]
                )
                for setting in (MAX_CONCURRENT_TASKS, TIMEOUT)
            }
            floors = {
                resource: _variable(
                    client, adaptive_floor_variable_name(environment, resource), ADAPTIVE_FLOOR_BOUNDS, None
                )
                for resource in ADAPTIVE_RESOURCES
            }
        return cls(
            flow=flow,
            stack=stack,
            environment=environment,
            max_concurrent_tasks=values[MAX_CONCURRENT_TASKS],  # type: ignore[arg-type]  # checked above
            timeout_seconds=values[TIMEOUT],  # type: ignore[arg-type]  # checked above
            adaptive_floors={r: floor for r, floor in floors.items() if floor is not None},  # type: ignore[misc]  # checked above
            erp_api_url=run_environment.erp_api_url,
            database_url=run_environment.database_url,
        )


def _deployment_id() -> UUID | None:
    """The deployment that started this flow run; None outside a flow run or for a direct call."""
    context = FlowRunContext.get()
    return context.flow_run.deployment_id if context and context.flow_run else None


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    # Inside a flow run the run logger puts the line in the run's logs on the server, where people look.
    return get_run_logger() if FlowRunContext.get() else get_logger(__name__)


_REQUIRED = object()


def _variable(
    client: SyncPrefectClient, name: str, bounds: NumberBounds, default: object = _REQUIRED
) -> object:
    """The Variable's value, checked against `bounds`; `default` when it does not exist, if one is given."""
    variable = client.read_variable_by_name(name)
    if variable is None:
        if default is _REQUIRED:
            raise MissingVariableError(name)
        return default
    problem = bounds.problem(variable.value)
    if problem is not None:
        raise InvalidVariableError(name, problem)
    return variable.value

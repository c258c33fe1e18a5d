"""What a flow run learns about itself at run time: its stack and environment from the flow run's environment
(set by the pool's job template), its sizing from the stack's Prefect Variables. Nothing here is a constant
in flow code: changing a Variable changes the next run, without a redeploy."""

import os
from typing import Self

from prefect.client.orchestration import SyncPrefectClient, get_client
from pydantic import BaseModel, Field

from flows.runtime.errors import InvalidVariableError, MissingVariableError
from rpa_naming import (
    ENVIRONMENT_ENV_VAR,
    LOCAL_ENVIRONMENT,
    LOCAL_STACK,
    MAX_CONCURRENT_TASKS,
    STACK_ENV_VAR,
    TIMEOUT,
    Environment,
    flow_variable_name,
)
from rpa_naming.flow_setting_bounds import FLOW_SETTING_BOUNDS

_WIDTH = FLOW_SETTING_BOUNDS[MAX_CONCURRENT_TASKS]
_TIMEOUT = FLOW_SETTING_BOUNDS[TIMEOUT]


class RunSettings(BaseModel):
    flow: str
    stack: str
    environment: Environment
    max_concurrent_tasks: int = Field(strict=True, ge=_WIDTH.minimum, le=_WIDTH.maximum)
    # Budget of one external call, waiting for slots and retries included.
    timeout_seconds: float = Field(ge=_TIMEOUT.minimum, le=_TIMEOUT.maximum)

    @classmethod
    def load(cls, flow: str) -> Self:
        """`RPA_STACK` / `RPA_ENVIRONMENT` from the environment (default `dev` / `development`, for runs
        outside any pool), then the Variables `<environment>_<flow>_max_concurrent_tasks` and
        `<environment>_<flow>_timeout`, each checked by the same rule as the stack file's values."""
        stack = os.environ.get(STACK_ENV_VAR) or LOCAL_STACK
        environment = os.environ.get(ENVIRONMENT_ENV_VAR) or LOCAL_ENVIRONMENT
        with get_client(sync_client=True) as client:
            values = {
                setting: _variable(client, flow_variable_name(environment, flow, setting), setting)
                for setting in (MAX_CONCURRENT_TASKS, TIMEOUT)
            }
        return cls(
            flow=flow,
            stack=stack,
            environment=environment,  # type: ignore[arg-type]  # validated by pydantic
            max_concurrent_tasks=values[MAX_CONCURRENT_TASKS],  # type: ignore[arg-type]  # checked above
            timeout_seconds=values[TIMEOUT],  # type: ignore[arg-type]  # checked above
        )


def _variable(client: SyncPrefectClient, name: str, setting: str) -> object:
    variable = client.read_variable_by_name(name)
    if variable is None:
        raise MissingVariableError(name)
    problem = FLOW_SETTING_BOUNDS[setting].problem(variable.value)
    if problem is not None:
        raise InvalidVariableError(name, problem)
    return variable.value

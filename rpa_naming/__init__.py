"""Names that infra and flows must agree on.

Prefect objects are prefixed with the stack so that dev, staging and prod can share one Prefect server.
Variables keep the seed's convention `<environment>_<flow>_<setting>`
(e.g. `production_rpa3_max_concurrent_tasks`).
"""

from typing import Final, Literal

Environment = Literal["development", "staging", "production"]

# The flows read every setting of theirs from `RPA_*` environment variables (one settings model, this prefix).
ENV_PREFIX: Final = "RPA_"
# Set in every flow-run container by the pool's base job template and by each deployment's job variables in
# prefect.yaml; a deployed run without them refuses to start rather than guess its stack.
STACK_ENV_VAR: Final = f"{ENV_PREFIX}STACK"
ENVIRONMENT_ENV_VAR: Final = f"{ENV_PREFIX}ENVIRONMENT"

# What a flow run outside any deployment (a developer's `python -m flows.rpa3`) assumes, and says so.
LOCAL_STACK: Final = "dev"
LOCAL_ENVIRONMENT: Final[Environment] = "development"


# What the shipped RPA flows read from every stack: a Variable per flow and setting, and the global limits
# guarding the external systems they call. `make check` verifies each stack file carries them.
FLOWS: Final = ("rpa1", "rpa2", "rpa3")
MAX_CONCURRENT_TASKS: Final = "max_concurrent_tasks"  # the task runner's width
TIMEOUT: Final = "timeout"  # seconds one external call may take, waiting and retries included
FLOW_SETTINGS: Final = (MAX_CONCURRENT_TASKS, TIMEOUT)

ERP_API: Final = "erp-api"  # concurrent calls to the ERP
ERP_API_RATE: Final = "erp-api-rate"  # calls started per second (a limit with slot decay)
DB_WRITE: Final = "db-write"  # concurrent write transactions on the results database (1 for SQLite)
CONCURRENCY_RESOURCES: Final = (ERP_API, DB_WRITE)
RATE_RESOURCES: Final = (ERP_API_RATE,)
# Limits guarding a service the flows call over HTTP: these may be adaptive (`adaptive: {floor: N}` in the
# stack file), the others may not (a database answers no 429 and keeps no latency the runtime can learn from).
ADAPTIVE_RESOURCES: Final = (ERP_API,)


def work_pool_name(stack: str, pool: str) -> str:
    return f"{stack}-{pool}"


def concurrency_limit_name(stack: str, resource: str) -> str:
    """Global concurrency limit guarding one external resource (an API, a database) for one stack."""
    return f"{stack}-{resource}"


WAITERS_SUFFIX: Final = "-waiters"


def waiters_limit_name(limit: str) -> str:
    """The limit on which flow runs waiting for `limit` each hold a slot while they wait: the only way its
    holders can see who waits (Prefect keeps no trace of a denied request). The runtime creates it."""
    return f"{limit}{WAITERS_SUFFIX}"


def concurrency_tag(stack: str, tag: str) -> str:
    """Task-run tag whose tag concurrency limit belongs to one stack."""
    return f"{stack}-{tag}"


def stack_variable_name(environment: str, key: str) -> str:
    """`rpa3_max_concurrent_tasks` in production -> `production_rpa3_max_concurrent_tasks`."""
    return f"{environment}_{key}"


def flow_variable_key(flow: str, setting: str) -> str:
    """A flow's setting as a key of the stack file's `variables:` (`rpa3`, `timeout` -> `rpa3_timeout`)."""
    return f"{flow}_{setting}"


def flow_variable_name(environment: str, flow: str, setting: str) -> str:
    return stack_variable_name(environment, flow_variable_key(flow, setting))


def adaptive_floor_key(resource: str) -> str:
    """The stack's Variable key that makes the flows' limit of `resource` adaptive, with its floor as value
    (absent: the limit is fixed)."""
    return f"{resource}_adaptive_floor"


def adaptive_floor_variable_name(environment: str, resource: str) -> str:
    """`erp-api` in production -> `production_erp-api_adaptive_floor`."""
    return stack_variable_name(environment, adaptive_floor_key(resource))


def worker_name(stack: str, pool: str, replica: int) -> str:
    return f"{stack}-{pool}-worker-{replica}"

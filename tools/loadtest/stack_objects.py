"""The stack's objects on its Prefect server: read once before a load (the ERP enforces them, the result
records them), and set and put back by the step-up mode."""

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate, VariableUpdate
from prefect.exceptions import ObjectNotFound

from rpa_naming import (
    DB_WRITE,
    ERP_API,
    ERP_API_RATE,
    MAX_CONCURRENT_TASKS,
    TIMEOUT,
    concurrency_limit_name,
    flow_variable_name,
)
from tools.loadtest.plan import FLOW, PlanError
from tools.loadtest.result import StackLimits
from tools.loadtest.target import Target


class MissingStackObjects(RuntimeError):
    """The stack is not on its server (yet): one line naming what is missing and what to run."""

    def __init__(self, target: Target, missing: list[str]) -> None:
        super().__init__(
            f"the {target.stack} stack's objects are missing on {target.api_url} ({', '.join(missing)}): "
            f"run `make local STACK={target.stack}` first"
        )


def width_variable(target: Target) -> str:
    return flow_variable_name(target.environment, FLOW, MAX_CONCURRENT_TASKS)


def erp_api_limit(target: Target) -> str:
    return concurrency_limit_name(target.stack, ERP_API)


def _limit(client: SyncPrefectClient, name: str, missing: list[str]) -> tuple[int, float]:
    try:
        found = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        missing.append(f"limit {name}")
        return 0, 0.0
    return found.limit, found.slot_decay_per_second or 0.0


def _variable(client: SyncPrefectClient, name: str, missing: list[str]) -> float:
    found = client.read_variable_by_name(name)
    if found is None or not isinstance(found.value, int | float):
        missing.append(f"Variable {name}")
        return 0
    return found.value


def read_stack_limits(target: Target) -> StackLimits:
    names = {resource: concurrency_limit_name(target.stack, resource) for resource in (ERP_API, ERP_API_RATE)}
    missing: list[str] = []
    try:
        with get_client(sync_client=True) as client:
            erp_api, _ = _limit(client, names[ERP_API], missing)
            burst, per_second = _limit(client, names[ERP_API_RATE], missing)
            db_write, _ = _limit(client, concurrency_limit_name(target.stack, DB_WRITE), missing)
            width = _variable(client, width_variable(target), missing)
            timeout = _variable(client, flow_variable_name(target.environment, FLOW, TIMEOUT), missing)
    except httpx.HTTPError as error:
        raise PlanError(
            f"cannot reach the Prefect API at {target.api_url} ({type(error).__name__}): "
            f"run `make local STACK={target.stack}` first"
        ) from error
    if missing:
        raise MissingStackObjects(target, missing)
    # A limit of 0 would hold every flow run forever: refuse before starting any.
    if erp_api < 1 or db_write < 1 or burst < 1 or per_second <= 0:
        raise PlanError(
            f"the {target.stack} stack's limits admit nothing ({names[ERP_API]}={erp_api}, "
            f"{names[ERP_API_RATE]}={burst} at {per_second:g}/s, db-write={db_write}): fix them first"
        )
    return StackLimits(
        erp_api=erp_api,
        erp_api_rate=burst,
        erp_api_rate_per_second=per_second,
        db_write=db_write,
        max_concurrent_tasks=int(width),
        timeout_seconds=timeout,
    )


def set_width_and_erp_api(target: Target, width: int, erp_api: int) -> None:
    """The step-up mode's knob: the next flow run's width, and the concurrency its calls may use."""
    with get_client(sync_client=True) as client:
        client.update_variable(VariableUpdate(name=width_variable(target), value=width))
        client.update_global_concurrency_limit(
            erp_api_limit(target), GlobalConcurrencyLimitUpdate(limit=erp_api)
        )

"""How the load's flow runs start: through the stack's rpa3 deployment when a worker of its pool is online
(the way production runs them: the worker, its pool's job template, the deployment's concurrency), else
locally.
`--mode auto` picks and says why; `--mode deployments` without a way through is an error."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import WorkerStatus
from prefect.exceptions import ObjectNotFound

from tools.loadtest.plan import FLOW, PlanError
from tools.loadtest.target import Target

Mode = Literal["auto", "local", "deployments"]
MODES: tuple[Mode, ...] = ("auto", "local", "deployments")


class NoDeploymentRoute(RuntimeError):
    """`--mode deployments`, and the stack has no deployment to start runs through, or no worker for them."""


@dataclass(frozen=True)
class Deployment:
    name: str  # `<flow>/<deployment>`
    id: UUID
    work_pool: str


@dataclass(frozen=True)
class Route:
    mode: Literal["local", "deployments"]
    reason: str  # one line: why this mode, e.g. "local: no online worker in pool dev-rpa-docker"
    deployment: Deployment | None = None  # set in deployments mode


def deployment_name(stack: str) -> str:
    """prefect.yaml names each stack's deployment after the stack: `rpa3/dev`."""
    return f"{FLOW}/{stack}"


def _through_deployment(client: SyncPrefectClient, target: Target) -> Route | str:
    """The deployment route, or why there is none."""
    name = deployment_name(target.stack)
    try:
        deployment = client.read_deployment_by_name(name)
    except ObjectNotFound:
        return f"no deployment {name} on {target.api_url}"
    pool = deployment.work_pool_name
    if pool is None:
        return f"deployment {name} has no work pool"
    try:
        paused = client.read_work_pool(pool).is_paused
    except ObjectNotFound:
        return f"work pool {pool} of {name} does not exist"
    if paused:
        return f"work pool {pool} of {name} is paused"
    online = [
        worker.name
        for worker in client.read_workers_for_work_pool(pool)
        if worker.status == WorkerStatus.ONLINE
    ]
    if not online:
        return f"no online worker in pool {pool} of {name}"
    return Route(
        mode="deployments",
        reason=f"deployments: {name} in pool {pool} ({len(online)} worker{'s' * (len(online) > 1)} online)",
        deployment=Deployment(name=name, id=deployment.id, work_pool=pool),
    )


def choose_route(target: Target, requested: Mode) -> Route:
    if requested == "local":
        return Route(mode="local", reason="local: --mode local")
    try:
        with get_client(sync_client=True) as client:
            found = _through_deployment(client, target)
    except httpx.HTTPError as error:
        raise PlanError(
            f"cannot reach the Prefect API at {target.api_url} ({type(error).__name__}): "
            f"run `make local STACK={target.stack}` first"
        ) from error
    if isinstance(found, Route):
        return found
    if requested == "deployments":
        raise NoDeploymentRoute(
            f"--mode deployments: {found}; run `make deploy STACK={target.stack}` and start the stack's "
            "workers, or use --mode local"
        )
    return Route(mode="local", reason=f"local: {found}")

"""One stack's status, read from its Prefect API with Prefect's own client, models and filters.

Only objects under the stack's names are read (pools `<stack>-*`, the Variables and limits its file names,
and limits carrying its prefix), so dev, staging and prod sharing one server each see their own."""

from collections import Counter
from datetime import datetime, timedelta

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowFilter, FlowFilterId
from prefect.client.schemas.objects import FlowRun, StateType, Worker, WorkPool
from prefect.client.schemas.objects import WorkerStatus as PrefectWorkerStatus
from prefect.client.schemas.responses import DeploymentResponse, GlobalConcurrencyLimitResponse
from prefect.exceptions import ObjectNotFound
from pydantic import JsonValue

import rpa_naming
from infra.cli.status import flow_runs
from infra.cli.status.flow_runs import in_pools
from infra.cli.status.model import (
    DeploymentStatus,
    LimitStatus,
    PoolStatus,
    QueueStatus,
    RunStatus,
    StackStatus,
    VariableStatus,
    WorkerStatus,
)
from infra.cli.status.stuck import LEASE_QUIET_SECONDS
from infra.program.worker_spec import worker_container_specs
from infra.stack_files.settings import StackSettings


def collect(
    client: SyncPrefectClient,
    settings: StackSettings,
    now: datetime,
    runs: int,
    window_minutes: float,
    stuck_after_seconds: float,
) -> StackStatus:
    pools = [settings.pool_name(pool.name) for pool in settings.platform.pools]
    held_pools = [pool for name in pools if (pool := found_pool(client, name)) is not None]
    present = [pool.name for pool in held_pools]
    # Limits before runs: a run that takes a slot in between is then seen as one that may hold it.
    limits = stack_limits(client, settings)
    active = flow_runs.active_runs(client, pools)
    ended = flow_runs.ended_since(client, pools, now - timedelta(seconds=LEASE_QUIET_SECONDS))
    late = flow_runs.late_runs(client, pools)
    deployments = stack_deployments(client, pools)
    names = deployment_names(client, deployments)
    by_pool = Counter((run.work_pool_name, run.state_type) for run in active)
    pending_in = Counter((run.work_pool_name, run.work_queue_name) for run in active if is_pending(run))
    late_in = Counter((run.work_pool_name, run.work_queue_name) for run in late)
    return StackStatus(
        stack=settings.stack,
        environment=settings.environment,
        api_url=settings.config.prefect_api_url,
        collected_at=now,
        stuck_after_seconds=stuck_after_seconds,
        pools=[
            PoolStatus(
                name=pool.name,
                type=pool.type,
                paused=pool.is_paused,
                concurrency_limit=pool.concurrency_limit,
                running=by_pool[pool.name, StateType.RUNNING],
                pending=by_pool[pool.name, StateType.PENDING],
                cancelling=by_pool[pool.name, StateType.CANCELLING],
            )
            for pool in held_pools
        ],
        queues=[
            QueueStatus(
                pool=pool,
                name=queue.name,
                priority=queue.priority,
                concurrency_limit=queue.concurrency_limit,
                paused=queue.is_paused,
                late=late_in[pool, queue.name],
                pending=pending_in[pool, queue.name],
            )
            for pool in present
            for queue in sorted(client.read_work_queues(work_pool_name=pool), key=lambda q: q.priority)
        ],
        workers=stack_workers(client, settings, present),
        limits=limits,
        variables=[
            variable_status(client, settings.variable_name(key), value)
            for key, value in settings.server_variables.items()
        ],
        deployments=[deployment_status(deployment, names) for deployment in deployments],
        active_runs=[run_status(run, names) for run in active],
        runs_ended_lately=len(ended),
        recent_runs=[run_status(run, names) for run in flow_runs.recent_runs(client, pools, runs)],
        error_rate=flow_runs.error_rate(client, pools, now, window_minutes),
    )


def found_pool(client: SyncPrefectClient, name: str) -> WorkPool | None:
    try:
        return client.read_work_pool(name)
    except ObjectNotFound:
        return None


def stack_workers(client: SyncPrefectClient, settings: StackSettings, pools: list[str]) -> list[WorkerStatus]:
    """The workers registered in the stack's pools, then those its file declares that are not (a declared
    worker's pool may itself be missing: its worker is then missing too)."""
    declared = [(spec.pool, spec.name) for spec in worker_container_specs(settings)]
    registered = [
        WorkerStatus(
            pool=pool,
            name=worker.name,
            online=worker.status == PrefectWorkerStatus.ONLINE,
            last_heartbeat=worker.last_heartbeat_time,
            declared=(pool, worker.name) in declared,
            present=True,
        )
        for pool in pools
        for worker in pool_workers(client, pool)
    ]
    seen = {(worker.pool, worker.name) for worker in registered}
    missing = [
        WorkerStatus(pool=pool, name=name, online=False, last_heartbeat=None, declared=True, present=False)
        for pool, name in declared
        if (pool, name) not in seen
    ]
    return registered + missing


def pool_workers(client: SyncPrefectClient, pool: str) -> list[Worker]:
    return flow_runs.every_page(
        lambda offset, limit: client.read_workers_for_work_pool(pool, offset=offset, limit=limit)
    )


def is_pending(run: FlowRun) -> bool:
    return run.state_type is StateType.PENDING


def stack_deployments(client: SyncPrefectClient, pools: list[str]) -> list[DeploymentResponse]:
    deployments: list[DeploymentResponse] = []
    while page := client.read_deployments(
        work_pool_filter=in_pools(pools), offset=len(deployments), limit=flow_runs.PAGE
    ):
        deployments += page
        if len(page) < flow_runs.PAGE:
            break
    return deployments


def deployment_names(client: SyncPrefectClient, deployments: list[DeploymentResponse]) -> dict[str, str]:
    """Deployment id -> `flow/deployment`, the name Prefect's CLI takes."""
    if not deployments:
        return {}
    ids = list({deployment.flow_id for deployment in deployments})
    flows = {
        flow.id: flow.name for flow in client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=ids)))
    }
    return {str(d.id): f"{flows.get(d.flow_id, d.flow_id)}/{d.name}" for d in deployments}


def stack_limits(client: SyncPrefectClient, settings: StackSettings) -> list[LimitStatus]:
    """The limits the stack file declares, and any other carrying the stack's prefix."""
    declared = {settings.limit_name(limit.name) for limit in settings.platform.concurrency_limits}
    prefix = rpa_naming.concurrency_limit_name(settings.stack, "")
    held: list[GlobalConcurrencyLimitResponse] = []
    while page := client.read_global_concurrency_limits(limit=flow_runs.PAGE, offset=len(held)):
        held += page
        if len(page) < flow_runs.PAGE:
            break
    return [
        LimitStatus(
            name=limit.name,
            limit=limit.limit,
            active=limit.active,
            active_slots=limit.active_slots,
            slot_decay_per_second=limit.slot_decay_per_second,
            declared=limit.name in declared,
        )
        for limit in held
        if limit.name in declared or limit.name.startswith(prefix)
    ]


def variable_status(client: SyncPrefectClient, name: str, declared: JsonValue) -> VariableStatus:
    variable = client.read_variable_by_name(name)
    if variable is None:
        return VariableStatus(name=name, declared=declared, present=False)
    return VariableStatus(name=name, declared=declared, held=variable.value, present=True)


def deployment_status(deployment: DeploymentResponse, names: dict[str, str]) -> DeploymentStatus:
    limit = deployment.global_concurrency_limit
    return DeploymentStatus(
        id=str(deployment.id),
        name=names[str(deployment.id)],
        pool=deployment.work_pool_name,
        concurrency_limit=None if limit is None else limit.limit,
        active_slots=None if limit is None else limit.active_slots,
    )


def run_status(run: FlowRun, names: dict[str, str]) -> RunStatus:
    # A run still going has no total yet: its time so far is Prefect's estimate.
    duration = run.total_run_time if run.end_time else run.estimated_run_time
    return RunStatus(
        id=str(run.id),
        name=run.name,
        deployment=names.get(str(run.deployment_id)) if run.deployment_id else None,
        pool=run.work_pool_name,
        state=run.state_type.value if run.state_type else "UNKNOWN",
        state_name=run.state_name or "",
        state_since=run.state.timestamp if run.state else None,
        start_time=run.start_time,
        duration_seconds=duration.total_seconds(),
    )

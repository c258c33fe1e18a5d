"""Pools and queues are not deleted from under deployments.

Deployments are made by `prefect deploy` (prefect.yaml), not by Pulumi. Prefect lets a pool or queue be
deleted while deployments target it and leaves them with no pool: their runs are scheduled and never start.
A delete that would strand deployments (a pool renamed in the stack file, a destroy) stops instead and
names them, so they are moved first (`make deploy` with prefect.yaml updated) or deleted.
"""

from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterId,
    WorkPoolFilter,
    WorkPoolFilterName,
    WorkQueueFilter,
    WorkQueueFilterId,
)

from infra.prefect_resources.provider import PrefectRequestError


def deployments_targeting(
    client: SyncPrefectClient, pool_name: str, queue_id: UUID | None = None
) -> list[str]:
    """`flow/deployment` names of the deployments that target the pool (or one queue of it)."""
    deployments = client.read_deployments(
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool_name])),
        work_queue_filter=WorkQueueFilter(id=WorkQueueFilterId(any_=[queue_id])) if queue_id else None,
    )
    if not deployments:
        return []
    flows = client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=[d.flow_id for d in deployments])))
    flow_names = {flow.id: flow.name for flow in flows}
    return sorted(f"{flow_names.get(d.flow_id, d.flow_id)}/{d.name}" for d in deployments)


def refuse_to_strand(what: str, deployments: list[str]) -> None:
    if deployments:
        names = ", ".join(deployments)
        raise PrefectRequestError(
            f"{what} is the target of the deployments {names}: deleting it would leave them with nowhere to "
            f"run. Move them first (update prefect.yaml, then `make deploy STACK=<stack>`) or delete them "
            f"(`prefect deployment delete {deployments[0]}` ...), then run this again."
        )

"""Prefect global concurrency limit: slots shared by every flow run of a stack; a rate limit when slots
decay (`slotDecayPerSecond` > 0)."""

from typing import ClassVar

import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectNotFound
from pydantic import Field

from infra.prefect_resources.bounds import Count, SlotDecay
from infra.prefect_resources.inputs import ResourceInputs, prefect_model_problems
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem

# Names Prefect itself gives to the limits it manages: tag limits and deployment concurrency.
TAG_LIMIT_PREFIX = "tag:"
DEPLOYMENT_LIMIT_PREFIX = "deployment:"
RESERVED_PREFIXES = (TAG_LIMIT_PREFIX, DEPLOYMENT_LIMIT_PREFIX)


class GlobalConcurrencyLimitInputs(ResourceInputs):
    kind: ClassVar[str] = "global concurrency limit"

    name: str = Field(min_length=1)
    limit: Count
    active: bool = True
    slot_decay_per_second: SlotDecay = 0.0

    def prefect_problems(self) -> list[Problem]:
        problems = prefect_model_problems(
            lambda: GlobalConcurrencyLimitCreate(
                name=self.name, limit=self.limit, slot_decay_per_second=self.slot_decay_per_second
            ),
            rename={"slot_decay_per_second": "slotDecayPerSecond"},
        )
        for prefix in RESERVED_PREFIXES:
            if self.name.startswith(prefix):
                problems.append(Problem("name", f"must not start with '{prefix}' (Prefect's own limits)"))
        return problems


class GlobalConcurrencyLimitProvider(PrefectProvider[GlobalConcurrencyLimitInputs]):
    inputs_model = GlobalConcurrencyLimitInputs

    def fetch(
        self, client: SyncPrefectClient, inputs: GlobalConcurrencyLimitInputs
    ) -> tuple[str, GlobalConcurrencyLimitInputs] | None:
        try:
            limit = client.read_global_concurrency_limit_by_name(inputs.name)
        except ObjectNotFound:
            return None
        held = inputs.model_copy(
            update={
                "limit": limit.limit,
                "active": limit.active,
                "slot_decay_per_second": limit.slot_decay_per_second or 0.0,
            }
        )
        return str(limit.id), held

    def create_object(self, client: SyncPrefectClient, inputs: GlobalConcurrencyLimitInputs) -> str:
        limit_id = client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(
                name=inputs.name,
                limit=inputs.limit,
                active=inputs.active,
                slot_decay_per_second=inputs.slot_decay_per_second,
            )
        )
        return str(limit_id)

    def update_object(
        self,
        client: SyncPrefectClient,
        object_id: str,
        inputs: GlobalConcurrencyLimitInputs,
        old: GlobalConcurrencyLimitInputs | None,
    ) -> None:
        # Slots in use are run-time state and are left alone.
        client.update_global_concurrency_limit(
            inputs.name,
            GlobalConcurrencyLimitUpdate(
                limit=inputs.limit, active=inputs.active, slot_decay_per_second=inputs.slot_decay_per_second
            ),
        )

    def delete_object(
        self, client: SyncPrefectClient, object_id: str, inputs: GlobalConcurrencyLimitInputs
    ) -> None:
        client.delete_global_concurrency_limit_by_name(inputs.name)


class GlobalConcurrencyLimit(
    PrefectResource[GlobalConcurrencyLimitInputs], module="prefect", name="GlobalConcurrencyLimit"
):
    """A Prefect global concurrency limit (or rate limit). `name` is the full name on the server."""

    provider_class = GlobalConcurrencyLimitProvider

    name: pulumi.Output[str]
    limit: pulumi.Output[int]

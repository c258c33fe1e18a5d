"""One face for the two implementations of `Limits` the contract suite holds to the same behaviour: what the
runtime calls (`api`), what a stack or operator does to limits, and letting time pass."""

import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate

from flows.runtime.limits_api import Limits, LimitsApi
from tests.support.manual_clock import ManualClock
from tests.support.memory_limits_api import MemoryLimitsApi


class LimitsUnderTest(Protocol):
    api: Limits

    def create(
        self, limit: int, *, slot_decay_per_second: float = 0.0, active: bool = True, name: str | None = None
    ) -> str:
        """A new limit, by its name (a unique one unless given)."""
        ...

    def update(self, name: str, *, limit: int) -> None: ...

    def delete(self, name: str) -> None: ...

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass (real time on a server: keep them few)."""
        ...


def _unique_name() -> str:
    return f"contract-{uuid.uuid4().hex[:8]}"


@dataclass
class InMemory:
    api: MemoryLimitsApi
    clock: ManualClock

    def create(
        self, limit: int, *, slot_decay_per_second: float = 0.0, active: bool = True, name: str | None = None
    ) -> str:
        name = name or _unique_name()
        self.api.create_limit(name, limit, slot_decay_per_second=slot_decay_per_second, active=active)
        return name

    def update(self, name: str, *, limit: int) -> None:
        self.api.update_limit(name, limit=limit)

    def delete(self, name: str) -> None:
        self.api.delete_limit(name)

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)


@dataclass
class OnServer:
    api: LimitsApi
    client: SyncPrefectClient

    def create(
        self, limit: int, *, slot_decay_per_second: float = 0.0, active: bool = True, name: str | None = None
    ) -> str:
        name = name or _unique_name()
        create = GlobalConcurrencyLimitCreate(
            name=name, limit=limit, slot_decay_per_second=slot_decay_per_second, active=active
        )
        self.client.create_global_concurrency_limit(create)
        return name

    def update(self, name: str, *, limit: int) -> None:
        self.client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=limit))

    def delete(self, name: str) -> None:
        self.client.delete_global_concurrency_limit_by_name(name)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

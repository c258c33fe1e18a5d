"""Prefect's global concurrency limits held in memory, answering the runtime's calls as a Prefect 3.9.1 server
does (prefect/server/api/concurrency_limits_v2.py, prefect/server/models/concurrency_limits_v2.py), on an
injected clock: the runtime's rare paths become deterministic tests. tests/runtime/test_limits_contract.py
runs one suite against this and a real server.

What it reproduces, because the runtime depends on it:
- a limit's count decays by `floor(slot_decay_per_second * seconds since updated)`; every write that changes
  the count stores the decayed count and restarts that clock, so a drained fraction of a slot is lost at each
  write. A denied request writes nothing. Changing the limit (`update_limit`) restarts the clock *without*
  storing the decayed count: the decay since the last write is lost;
- a request is granted only if the limit is active and the decayed count plus the slots fit; more slots than
  the limit holds is an error (422). Leases are of 60 s to one day (422 otherwise);
- a request naming no existing limit, or an inactive one, is granted and counts nothing (the server updates
  zero rows and calls that success), which is why the runtime reads a limit before leasing from it;
- a lease holds slots until released (a second release does nothing) or until it expires; renewing an
  expired lease fails only once it was reclaimed. The server reclaims expired leases every 15 s
  (`PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS`), this at once: the strictest case for the runtime;
- a lease outlives the deletion of its limit (it can be renewed and released, freeing nothing), and does
  not count against a new limit of the same name.
"""

import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import httpx

from flows.clock import Clock
from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.limits_api import LimitsApiError, LimitState

_MIN_LEASE_SECONDS = 60.0
_MAX_LEASE_SECONDS = 24 * 60 * 60.0


@dataclass
class _Limit:
    id: UUID
    limit: int
    active: bool
    slot_decay_per_second: float
    updated: datetime
    stored_slots: int = 0  # as of `updated`; reads subtract what decayed since

    def active_slots(self, now: datetime) -> int:
        drained = math.floor(self.slot_decay_per_second * (now - self.updated).total_seconds())
        return max(0, self.stored_slots - drained)

    def write(self, slots: int, now: datetime) -> None:
        self.stored_slots = max(0, slots)
        self.updated = now


@dataclass
class _Lease:
    limit_ids: list[UUID]
    slots: int
    expires_at: float  # on the clock's monotonic time


@dataclass
class MemoryLimitsApi:
    clock: Clock
    lease_storage_name: str | None = None  # what `lease_storage()` answers: a server that does not say
    _limits: dict[str, _Limit] = field(default_factory=dict)
    _leases: dict[UUID, _Lease] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # What a stack or an operator does to limits (the runtime only ever adds one: `ensure_limit`).

    def create_limit(
        self, name: str, limit: int, *, slot_decay_per_second: float = 0.0, active: bool = True
    ) -> None:
        with self._lock:
            self._limits[name] = _Limit(uuid.uuid4(), limit, active, slot_decay_per_second, self.clock.now())

    def update_limit(
        self,
        name: str,
        *,
        limit: int | None = None,
        active: bool | None = None,
        slot_decay_per_second: float | None = None,
    ) -> None:
        with self._lock:
            found = self._limit(name)
            found.limit = found.limit if limit is None else limit
            found.active = found.active if active is None else active
            if slot_decay_per_second is not None:
                found.slot_decay_per_second = slot_decay_per_second
            found.updated = self.clock.now()  # the count is not re-based: what decayed since is lost

    def delete_limit(self, name: str) -> None:
        with self._lock:
            self._limit(name)
            del self._limits[name]

    def active_leases(self) -> int:
        with self._lock:
            self._reclaim_expired()
            return len(self._leases)

    def forget_leases(self) -> None:
        """What a restart does to a server keeping its leases in memory: the leases are gone, the counts
        stay."""
        with self._lock:
            self._leases.clear()

    # The `Limits` protocol.

    def lease_storage(self) -> str | None:
        return self.lease_storage_name

    def ensure_limit(self, name: str, limit: int) -> None:
        with self._lock:
            if name not in self._limits:
                self._limits[name] = _Limit(uuid.uuid4(), limit, True, 0.0, self.clock.now())

    def read(self, name: str) -> LimitState:
        with self._lock:
            self._reclaim_expired()
            found = self._limit(name)
            return LimitState(
                name=name,
                limit=found.limit,
                active_slots=found.active_slots(self.clock.now()),
                active=found.active,
                slot_decay_per_second=found.slot_decay_per_second,
                updated=found.updated,
            )

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        path = "/v2/concurrency_limits/increment-with-lease"
        if not _MIN_LEASE_SECONDS <= lease_seconds <= _MAX_LEASE_SECONDS:
            raise _unprocessable(path, "lease_duration must be between 60 s and one day")
        with self._lock:
            self._reclaim_expired()
            limit_ids = self._increment(path, name, slots, rate_limit=False)
            if limit_ids is None:
                return None
            lease_id = uuid.uuid4()
            self._leases[lease_id] = _Lease(limit_ids, slots, self.clock.monotonic() + lease_seconds)
            return lease_id

    def renew(self, lease_id: UUID, lease_seconds: float) -> bool:
        with self._lock:
            self._reclaim_expired()
            lease = self._leases.get(lease_id)
            if lease is None:
                return False
            lease.expires_at = self.clock.monotonic() + lease_seconds
            return True

    def release(self, lease_id: UUID) -> None:
        with self._lock:
            self._reclaim_expired()
            lease = self._leases.pop(lease_id, None)
            if lease is not None:
                self._decrement(lease)

    def take_rate_tokens(self, name: str, count: int) -> bool:
        with self._lock:
            self._reclaim_expired()
            return (
                self._increment("/v2/concurrency_limits/increment", name, count, rate_limit=True) is not None
            )

    # Called with the lock held.

    def _limit(self, name: str) -> _Limit:
        found = self._limits.get(name)
        if found is None:
            raise MissingConcurrencyLimitError(name)
        return found

    def _increment(self, path: str, name: str, slots: int, *, rate_limit: bool) -> list[UUID] | None:
        """The ids of the limits counting the slots (none when the name is unknown or the limit inactive),
        or None when they do not fit."""
        found = self._limits.get(name)
        if found is None or not found.active:
            return []
        if slots > found.limit:
            raise _unprocessable(path, "Slots requested is greater than the limit")
        if rate_limit and found.slot_decay_per_second == 0.0:
            raise _unprocessable(path, f"Only concurrency limits with slot decay can be used: {name!r}")
        now = self.clock.now()
        occupied = found.active_slots(now)
        if occupied + slots > found.limit:
            return None
        found.write(occupied + slots, now)
        return [found.id]

    def _decrement(self, lease: _Lease) -> None:
        now = self.clock.now()
        for found in self._limits.values():
            if found.id in lease.limit_ids and found.active:
                found.write(found.active_slots(now) - lease.slots, now)

    def _reclaim_expired(self) -> None:
        now = self.clock.monotonic()
        for lease_id in [i for i, lease in self._leases.items() if lease.expires_at < now]:
            self._decrement(self._leases.pop(lease_id))


def _unprocessable(path: str, detail: str) -> LimitsApiError:
    """The error `LimitsApi` raises for the server's 422 answer."""
    request = httpx.Request("POST", f"http://memory/api{path}")
    return LimitsApiError(httpx.Response(422, request=request, json={"detail": detail}))

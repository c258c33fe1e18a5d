"""The few Prefect global-concurrency-limit calls the runtime makes, through one shared client.

Prefect's client retries 503 ("database is locked" on SQLite) after about 2 s; for slot traffic that is an
eternity, so the runtime's own threads turn those retries off (`without_client_retries`) and this module
retries transient failures itself after a few milliseconds. A call that still fails raises; the slot pools
treat that like a denial and try again later, so an API hiccup slows a flow down but never lets it exceed a
limit.
"""

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from flows.runtime.errors import MissingConcurrencyLimitError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_TRANSIENT_ATTEMPTS = 6


@contextmanager
def without_client_retries() -> Iterator[None]:
    """For the current thread only: Prefect's client returns 5xx at once instead of sleeping ~2 s.

    Building the settings copy costs ~35 ms, so threads enter this once, not per call."""
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}):
        yield


@dataclass(frozen=True)
class LimitState:
    name: str
    limit: int
    active_slots: int
    active: bool
    slot_decay_per_second: float
    # When the server last wrote this limit; rate-limit decay is counted from here.
    updated: datetime | None

    @property
    def free_slots(self) -> int:
        return self.limit - self.active_slots


class LimitsApi:
    def __init__(self, client: SyncPrefectClient, holder: ConcurrencyLeaseHolder | None) -> None:
        self._client = client
        self._holder = holder
        self._calls = 0
        self._calls_lock = threading.Lock()

    @property
    def calls(self) -> int:
        """Requests sent so far (including transient retries): the runtime's server cost."""
        return self._calls

    def read(self, name: str) -> LimitState:
        try:
            limit = self._call(lambda: self._client.read_global_concurrency_limit_by_name(name))
        except ObjectNotFound as error:
            raise MissingConcurrencyLimitError(name) from error
        return LimitState(
            name=limit.name,
            limit=limit.limit,
            active_slots=limit.active_slots,
            active=limit.active,
            slot_decay_per_second=limit.slot_decay_per_second,
            updated=limit.updated,
        )

    def lease_slot(self, name: str, lease_seconds: float) -> UUID | None:
        """One slot under a lease the server reclaims if it is not renewed; None when the limit is full."""

        def increment() -> httpx.Response:
            return self._client.increment_concurrency_slots_with_lease(
                names=[name], slots=1, mode="concurrency", lease_duration=lease_seconds, holder=self._holder
            )

        response = self._call_unless_locked(increment)
        return None if response is None else UUID(response.json()["lease_id"])

    def renew(self, lease_id: UUID, lease_seconds: float) -> bool:
        """False when the lease is gone (expired and reclaimed): its slot may already be someone else's."""
        try:
            self._call(lambda: self._client.renew_concurrency_lease(lease_id, lease_seconds))
        except PrefectHTTPStatusError as error:
            if _status(error) in (404, 410):
                return False
            raise
        return True

    def release(self, lease_id: UUID) -> None:
        self._call(lambda: self._client.release_concurrency_slots_with_lease(lease_id))

    def take_rate_tokens(self, name: str, count: int) -> bool:
        """Occupy `count` slots of a decaying limit (they drain by themselves); False when it is full."""

        def increment() -> httpx.Response:
            return self._client.increment_concurrency_slots(names=[name], slots=count, mode="rate_limit")

        return self._call_unless_locked(increment) is not None

    def _call_unless_locked(self, call: Callable[[], httpx.Response]) -> httpx.Response | None:
        try:
            return self._call(call)
        except PrefectHTTPStatusError as error:
            if _status(error) == 423:
                return None
            raise

    def _call(self, call: Callable[[], T]) -> T:
        for attempt in range(_TRANSIENT_ATTEMPTS):
            with self._calls_lock:
                self._calls += 1
            try:
                return call()
            except PrefectHTTPStatusError as error:
                if _status(error) not in _TRANSIENT_STATUS or attempt == _TRANSIENT_ATTEMPTS - 1:
                    raise
                reason: object = _status(error)
            except httpx.TransportError as error:
                if attempt == _TRANSIENT_ATTEMPTS - 1:
                    raise
                reason = error
            delay = random.uniform(0.5, 1.5) * 0.01 * 2**attempt
            logger.debug("transient Prefect API failure (%s); retrying in %.3f s", reason, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return None if response is None else response.status_code

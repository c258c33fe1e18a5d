"""The few Prefect global-concurrency-limit calls the runtime makes, through one shared Prefect client.

They go through the client's HTTP session (its base URL, auth headers, TLS and connection pool) but not
through its retry wrapper: on a 503 (SQLite's "database is locked", frequent under slot traffic) that
wrapper sleeps about 2 s, and it still sleeps once with PREFECT_CLIENT_MAX_RETRIES=0 (Prefect 3.9.1,
`PrefectHttpxSyncClient._send_with_retry`). Slot traffic cannot afford that, so transient failures are
retried here after a few milliseconds. A lease request is retried after a transport error only when it
surely never reached the server (no connection): after a read timeout the server may have granted the
lease, and asking again could hold twice the slots until the first lease lapses. A call that still fails
raises; the pools treat that like a denial and try again later: an API hiccup slows a flow down but never
lets it exceed a limit. Responses are parsed with Prefect's own schemas.
"""

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse, GlobalConcurrencyLimitResponse

from flows.runtime.errors import MissingConcurrencyLimitError

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_ATTEMPTS = 10
_FIRST_RETRY_SECONDS = 0.005
_MAX_RETRY_SECONDS = 0.1
# Transport errors after which the request surely never arrived: safe to resend even when not idempotent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class LimitsApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url.path} -> HTTP {response.status_code}: {response.text}"
        )
        self.status_code = response.status_code


class ServerBusy(LimitsApiError):
    """A transient failure (503 "database is locked" and the like): the server changed nothing."""


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
        # The session of an entered client; see the module docstring for why not its methods.
        self._session: httpx.Client = client._client
        self._holder = holder
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._lease_storage: str | None = None

    @property
    def calls(self) -> int:
        """Requests sent so far, retries included: what the runtime costs the Prefect server."""
        return self._calls

    def lease_storage(self) -> str | None:
        """Where the server keeps its concurrency leases (a module name), or None when it does not say."""
        if self._lease_storage is None:
            response = self._send("GET", "/admin/settings", expected={200, 401, 403, 404})
            if response.status_code == 200:
                settings = response.json()
                self._lease_storage = settings.get("server", {}).get("concurrency", {}).get("lease_storage")
        return self._lease_storage

    def read(self, name: str) -> LimitState:
        response = self._send("GET", f"/v2/concurrency_limits/{name}", expected={200, 404})
        if response.status_code == 404:
            raise MissingConcurrencyLimitError(name)
        limit = GlobalConcurrencyLimitResponse.model_validate(response.json())
        return LimitState(
            name=limit.name,
            limit=limit.limit,
            active_slots=limit.active_slots,
            active=limit.active,
            slot_decay_per_second=limit.slot_decay_per_second,
            updated=limit.updated,
        )

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        """Slots under one lease the server reclaims unless renewed; None when they do not fit."""
        body: dict[str, Any] = {
            "names": [name],
            "slots": slots,
            "mode": "concurrency",
            "lease_duration": lease_seconds,
        }
        if self._holder is not None:
            body["holder"] = self._holder.model_dump(mode="json")
        response = self._send(
            "POST",
            "/v2/concurrency_limits/increment-with-lease",
            body,
            expected={200, 423},
            retry_after=_NOT_SENT,
        )
        if response.status_code == 423:
            return None
        return ConcurrencyLimitWithLeaseResponse.model_validate(response.json()).lease_id

    def renew(self, lease_id: UUID, lease_seconds: float) -> bool:
        """False when the lease is gone (lapsed and reclaimed): its slot may already be someone else's."""
        path = f"/v2/concurrency_limits/leases/{lease_id}/renew"
        response = self._send("POST", path, {"lease_duration": lease_seconds}, expected={204, 404, 410})
        return response.status_code == 204

    def release(self, lease_id: UUID) -> None:
        body = {"lease_id": str(lease_id)}
        self._send("POST", "/v2/concurrency_limits/decrement-with-lease", body, expected={204})

    def take_rate_tokens(self, name: str, count: int) -> bool:
        """Occupy `count` slots of a decaying limit (they drain by themselves); False when it is full.
        Raises ServerBusy at once, without retrying: the caller times its own retry."""
        body = {"names": [name], "slots": count, "mode": "rate_limit"}
        path = "/v2/concurrency_limits/increment"
        response = self._send("POST", path, body, expected={200, 423}, attempts=1)
        return response.status_code == 200

    def _send(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        expected: set[int],
        attempts: int = _ATTEMPTS,
        retry_after: tuple[type[httpx.TransportError], ...] = (httpx.TransportError,),
    ) -> httpx.Response:
        request = self._session.build_request(method, path, json=body)
        if self._session.csrf_token:
            self._session._add_csrf_headers(request)  # refreshes the token when it expires
        for attempt in range(attempts):
            with self._calls_lock:
                self._calls += 1
            try:
                # httpx.Client.send, not the session's override: that is the retry wrapper described above.
                response = httpx.Client.send(self._session, request)
            except httpx.TransportError as error:
                if attempt == attempts - 1 or not isinstance(error, retry_after):
                    raise
            else:
                if response.status_code in expected:
                    return response
                if _asks_for_csrf_token(response) and not request.headers.get("Prefect-Csrf-Token"):
                    # Only servers with CSRF protection on (off by default) get here; asking for the token
                    # up front would cost every client a request through the retry wrapper described above.
                    self._session._add_csrf_headers(request)
                    continue
                if response.status_code not in _TRANSIENT_STATUS:
                    raise LimitsApiError(response)
                if attempt == attempts - 1:
                    raise ServerBusy(response)
            backoff = min(_MAX_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2**attempt)
            time.sleep(backoff * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")


def _asks_for_csrf_token(response: httpx.Response) -> bool:
    return response.status_code == 403 and "CSRF" in response.text

"""The few Prefect global-concurrency-limit calls the runtime makes, on an HTTP client of its own.

Why it is made so: docs/runtime.md#the-limits-api-in-detail."""

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

import httpx
from prefect.client.schemas.objects import ConcurrencyLeaseHolder, CsrfToken
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse, GlobalConcurrencyLimitResponse
from prefect.settings import Settings, get_current_settings

from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.prefect_http import Secrets, api_client

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_ATTEMPTS = 10
_FIRST_RETRY_SECONDS = 0.005
_MAX_RETRY_SECONDS = 0.1
# Transport errors after which the request surely never arrived: safe to resend even when not idempotent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The methods Prefect's CSRF middleware checks.
_CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_TOKEN_HEADER = "Prefect-Csrf-Token"
CSRF_CLIENT_HEADER = "Prefect-Csrf-Client"
CSRF_TOKEN_PATH = "/csrf-token"


class LimitsApiError(RuntimeError):
    def __init__(self, response: httpx.Response, secrets: Secrets | None = None) -> None:
        request = response.request
        # The server's answer may echo what it was sent; the URL is shown by its path alone.
        detail = (secrets or Secrets()).redact(response.text)
        super().__init__(f"{request.method} {request.url.path} -> HTTP {response.status_code}: {detail}")
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


class Limits(Protocol):
    """What the runtime asks of Prefect's global concurrency limits: `LimitsApi` asks a server, and
    tests/support/memory_limits_api.py answers the same way from memory (tests/runtime/test_limits_contract.py
    holds the two to the same behaviour)."""

    def lease_storage(self) -> str | None: ...

    def read(self, name: str) -> LimitState: ...

    def ensure_limit(self, name: str, limit: int) -> None:
        """Create the limit unless one of that name exists (whatever its settings)."""
        ...

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None: ...

    def renew(self, lease_id: UUID, lease_seconds: float) -> bool: ...

    def release(self, lease_id: UUID) -> None: ...

    def take_rate_tokens(self, name: str, count: int) -> bool: ...


class LimitsApi:
    """Open while the flow run needs it: `with LimitsApi(holder) as api: ...` closes its connections."""

    def __init__(self, holder: ConcurrencyLeaseHolder | None, settings: Settings | None = None) -> None:
        """`settings`: Prefect's settings to connect with; by default the current ones (PREFECT_API_URL...)"""
        settings = settings or get_current_settings()
        self._http, self._secrets = api_client(settings)
        self._holder = holder
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._lease_storage: str | None = None
        self._csrf_support = settings.client.csrf_support_enabled
        self._csrf_client = str(uuid.uuid4())
        self._csrf_token: CsrfToken | None = None
        # Held while a token is fetched, so that threads needing one at once fetch one token, not one each.
        self._csrf_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LimitsApi({str(self._http.base_url)!r})"  # the URL without credentials; see prefect_http

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

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

    def ensure_limit(self, name: str, limit: int) -> None:
        body = {"name": name, "limit": limit, "active": True}
        self._send("POST", "/v2/concurrency_limits/", body, expected={201, 409})

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
        params: dict[str, str] | None = None,
        expected: set[int],
        attempts: int = _ATTEMPTS,
        retry_after: tuple[type[httpx.TransportError], ...] = (httpx.TransportError,),
    ) -> httpx.Response:
        request = self._http.build_request(method, path, json=body, params=params)
        changes = method in _CHANGES
        if changes:
            self._sign(request)
        csrf_retried = False
        failed = 0
        while True:
            with self._calls_lock:
                self._calls += 1
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                failed += 1
                if failed == attempts or not isinstance(error, retry_after):
                    raise
            else:
                if response.status_code in expected:
                    return response
                if changes and not csrf_retried and _asks_for_csrf_token(response) and self._resign(request):
                    # The token was refused, by the middleware, before anything changed: safe to resend, at
                    # once and without counting an attempt (a call allowed one attempt still gets its answer).
                    csrf_retried = True
                    continue
                if response.status_code not in _TRANSIENT_STATUS:
                    raise LimitsApiError(response, self._secrets)
                failed += 1
                if failed == attempts:
                    raise ServerBusy(response, self._secrets)
            backoff = min(_MAX_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2 ** (failed - 1))
            time.sleep(backoff * random.uniform(0.5, 1.5))

    def _sign(self, request: httpx.Request) -> None:
        """Put the CSRF token on a change request; fetched first, and again once expired."""
        if not self._csrf_support:  # off in Prefect's settings, or the server issues no tokens
            return
        token = self._csrf_token
        if token is None or token.expiration <= datetime.now(UTC):
            token = self._fetch_csrf_token(stale=token)
        if token is not None:
            request.headers[CSRF_TOKEN_HEADER] = token.token
            request.headers[CSRF_CLIENT_HEADER] = self._csrf_client

    def _resign(self, request: httpx.Request) -> bool:
        """After a CSRF refusal: sign the request with a fresh token. False when there is none to be had."""
        if not self._csrf_support:
            return False
        held = self._csrf_token
        renew = held is None or held.token == request.headers.get(CSRF_TOKEN_HEADER)
        token = self._fetch_csrf_token(stale=held) if renew else held  # else: another thread renewed it
        if token is None:
            return False
        request.headers[CSRF_TOKEN_HEADER] = token.token
        request.headers[CSRF_CLIENT_HEADER] = self._csrf_client
        return True

    def _fetch_csrf_token(self, stale: CsrfToken | None) -> CsrfToken | None:
        """A new token, unless another thread replaced `stale` meanwhile (then that one)."""
        with self._csrf_lock:
            if not self._csrf_support or self._csrf_token is not stale:
                return self._csrf_token
            params = {"client": self._csrf_client}
            # 404: a server without the endpoint; 422: CSRF protection off (Prefect's client stops on both).
            response = self._send("GET", CSRF_TOKEN_PATH, params=params, expected={200, 404, 422})
            if response.status_code != 200:
                self._csrf_support = False
                return None
            self._csrf_token = CsrfToken.model_validate(response.json())
            return self._csrf_token


def _asks_for_csrf_token(response: httpx.Response) -> bool:
    # Prefect's middleware: "Missing CSRF token." / "Invalid CSRF token or client identifier."
    return response.status_code == 403 and "CSRF" in response.text

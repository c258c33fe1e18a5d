"""The runtime's limits API against real Prefect servers that ask more of a client than the default one: a
server that requires a basic-auth string, and a server with CSRF protection on. It connects from Prefect's
settings alone, like Prefect's client, and never shows the credentials it was given."""

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_URL,
    PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
    temporary_settings,
)

from flows.runtime.limits_api import (
    CSRF_CLIENT_HEADER,
    CSRF_TOKEN_HEADER,
    CSRF_TOKEN_PATH,
    LimitsApi,
    LimitsApiError,
)
from local_prefect_server.server_settings import FILESYSTEM_LEASES
from tests.support.prefect_server import PrefectServer, auth_server, free_port

PASSWORD = f"pw-{uuid.uuid4().hex}"
# Short, so that a test sees a token expire and the API fetch the next one; long enough that two requests in
# a row (milliseconds apart on a quiet machine) never straddle an expiry, however busy the machine.
CSRF_TOKEN_SECONDS = 10
LEASE_SECONDS = 60  # the least the server accepts


@dataclass
class CsrfServer(PrefectServer):
    """A server with CSRF protection on, its tokens short-lived."""

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true",
            "PREFECT_SERVER_CSRF_TOKEN_EXPIRATION": f"PT{CSRF_TOKEN_SECONDS}S",
        }


@pytest.fixture(scope="module")
def with_auth() -> Iterator[PrefectServer]:
    with auth_server(PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def with_csrf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("csrf-server")
    server = CsrfServer(home=home / "prefect-home", port=free_port(), log_path=home / "server.log")
    server.start()
    yield server
    server.stop()


def new_limit(server: PrefectServer, limit: int = 2, per_second: float = 0.0) -> str:
    """A limit on `server`, made with Prefect's own client; `per_second`: a rate limit's decay."""
    name = f"limits-api-{uuid.uuid4().hex[:8]}"
    create = GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=per_second)
    with SyncPrefectClient(server.api_url, auth_string=server.auth_string) as client:
        client.create_global_concurrency_limit(create)
    return name


def shown(error: BaseException) -> str:
    """Everything an error shows wherever it ends up: message, repr, formatted traceback."""
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


def test_a_server_that_requires_basic_auth(
    with_auth: PrefectServer, caplog: pytest.LogCaptureFixture
) -> None:
    name = new_limit(with_auth)
    settings = {PREFECT_API_URL: with_auth.api_url, PREFECT_API_AUTH_STRING: with_auth.auth_string}
    with caplog.at_level(logging.DEBUG), temporary_settings(updates=settings), LimitsApi(None) as api:
        assert api.read(name).limit == 2
        lease = api.lease_slots(name, 2, LEASE_SECONDS)
        assert lease is not None
        assert api.lease_slots(name, 1, LEASE_SECONDS) is None  # full
        assert api.renew(lease, LEASE_SECONDS)
        api.release(lease)
        assert api.read(name).active_slots == 0
        assert api.lease_storage() == FILESYSTEM_LEASES  # /admin/settings answers behind the auth too
        with pytest.raises(LimitsApiError) as bad_request:
            api.lease_slots(name, 1, lease_seconds=1)  # below the server's minimum: HTTP 422
        assert bad_request.value.status_code == 422
        assert PASSWORD not in shown(bad_request.value)
        assert PASSWORD not in repr(api)
    assert PASSWORD not in caplog.text  # httpx logs every request, at INFO

    wrong = f"admin:wrong-{uuid.uuid4().hex}"
    with (
        temporary_settings(updates={**settings, PREFECT_API_AUTH_STRING: wrong}),
        LimitsApi(None) as api,
        pytest.raises(LimitsApiError) as refused,
    ):
        api.read(name)
    assert refused.value.status_code == 401
    assert wrong.partition(":")[2] not in shown(refused.value)


def test_credentials_written_into_the_api_url(with_auth: PrefectServer) -> None:
    """A stack may hand its workers such a URL: sent as basic auth, shown without the password."""
    name = new_limit(with_auth)
    url = with_auth.api_url.replace("http://", f"http://{with_auth.auth_string}@")
    with temporary_settings(updates={PREFECT_API_URL: url}), LimitsApi(None) as api:
        assert api.read(name).limit == 2
        assert PASSWORD not in repr(api)
        with pytest.raises(LimitsApiError) as bad_request:
            api.lease_slots(name, 1, lease_seconds=1)
    assert PASSWORD not in shown(bad_request.value)


def test_the_server_refuses_a_change_without_a_csrf_token(with_csrf: PrefectServer) -> None:
    """What the limits API relies on: the refusal it answers by fetching a token (no Prefect client here)."""
    body = {"names": [new_limit(with_csrf)], "slots": 1, "mode": "concurrency", "lease_duration": 60}
    response = httpx.post(f"{with_csrf.api_url}/v2/concurrency_limits/increment-with-lease", json=body)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_a_server_with_csrf_protection(with_csrf: PrefectServer) -> None:
    name, rate = new_limit(with_csrf), new_limit(with_csrf, per_second=1.0)
    with temporary_settings(updates={PREFECT_API_URL: with_csrf.api_url}), LimitsApi(None) as api:
        # The first change this API sends, and allowed one attempt only: a token is fetched first.
        assert api.take_rate_tokens(rate, 1) is True
        assert api.calls == 2
        lease = api.lease_slots(name, 1, LEASE_SECONDS)
        assert lease is not None
        assert api.calls == 3  # the same token
        assert api.renew(lease, LEASE_SECONDS)
        time.sleep(CSRF_TOKEN_SECONDS + 0.5)  # the token expires: the next change fetches another one
        api.release(lease)
        assert api.read(name).active_slots == 0
        with pytest.raises(LimitsApiError) as bad_request:
            api.lease_slots(name, 1, lease_seconds=1)
        assert bad_request.value.status_code == 422  # a refusal other than CSRF's raises, as on any server


def test_threads_changing_at_once_share_one_token(
    with_csrf: PrefectServer, caplog: pytest.LogCaptureFixture
) -> None:
    name = new_limit(with_csrf, limit=8)
    leases: list[UUID | None] = []
    dropped: list[httpx.TransportError] = []
    with (
        caplog.at_level(logging.INFO, logger="httpx"),  # httpx logs each request it sends
        temporary_settings(updates={PREFECT_API_URL: with_csrf.api_url}),
        LimitsApi(None) as api,
    ):
        start = threading.Barrier(8)

        def lease() -> None:
            start.wait()
            try:
                leases.append(api.lease_slots(name, 1, LEASE_SECONDS))
            except httpx.TransportError as error:
                # Under concurrent changes a CSRF-protected server on SQLite drops some connections without an
                # answer; a lease request is not resent then (it may have been granted): pools retry later.
                dropped.append(error)

        threads = [threading.Thread(target=lease) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for lease_id in leases:
            assert lease_id is not None
            api.release(lease_id)
    assert len(leases) + len(dropped) == 8 and leases
    token_requests = [record for record in caplog.records if CSRF_TOKEN_PATH in record.getMessage()]
    assert len(token_requests) == 1


def test_csrf_support_off_in_prefects_settings(with_csrf: PrefectServer) -> None:
    """PREFECT_CLIENT_CSRF_SUPPORT_ENABLED=false: no token is asked for, so the server's refusal stands."""
    name = new_limit(with_csrf)
    updates = {PREFECT_API_URL: with_csrf.api_url, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED: False}
    with temporary_settings(updates=updates), LimitsApi(None) as api:
        with pytest.raises(LimitsApiError) as refused:
            api.lease_slots(name, 1, LEASE_SECONDS)
        assert refused.value.status_code == 403
        assert api.calls == 1


def test_a_request_sent_with_the_token_carries_both_headers(with_csrf: PrefectServer) -> None:
    """Prefect's middleware checks the token against the client id it was issued for: both must travel."""
    assert (CSRF_TOKEN_HEADER, CSRF_CLIENT_HEADER) == ("Prefect-Csrf-Token", "Prefect-Csrf-Client")
    client_id = str(uuid.uuid4())
    token = httpx.get(f"{with_csrf.api_url}/csrf-token", params={"client": client_id}).json()["token"]
    body = {"names": [new_limit(with_csrf, per_second=1.0)], "slots": 1, "mode": "rate_limit"}
    url = f"{with_csrf.api_url}/v2/concurrency_limits/increment"
    assert httpx.post(url, json=body, headers={CSRF_TOKEN_HEADER: token}).status_code == 403
    headers = {CSRF_TOKEN_HEADER: token, CSRF_CLIENT_HEADER: client_id}
    assert httpx.post(url, json=body, headers=headers).status_code == 200

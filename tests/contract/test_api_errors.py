"""An unreachable Prefect API, refused credentials and a server error reach the engine, through the real
provider process, as one line: the API's URL with its credentials masked, what happened, what to do. The
program's check of the API before it declares anything words them the same way."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra import config_keys
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.variable import VariableProvider
from infra.program.api_preflight import require_api
from infra.stack_files.settings import StackSettings
from infra.stack_files.stack_config import parse_stack_settings
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.prefect_server import auth_server as started_auth_server
from tests.support.provider_protocol import DynamicProviderProcess, ProviderError, secret
from tests.unit.test_settings import valid

SECRET = f"pw-{uuid.uuid4().hex}"
URL_KEY = config_keys.qualified(config_keys.API_URL)
VARIABLE_URN = "urn:pulumi:test::rpa-platform::pulumi-python:dynamic/prefect:Variable::v"
LIMIT_URN = "urn:pulumi:test::rpa-platform::pulumi-python:dynamic/prefect:GlobalConcurrencyLimit::l"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[PrefectServer]:
    with started_auth_server(SECRET) as server:
        yield server


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[DynamicProviderProcess]:
    """A provider process of its own (configured per test), retrying nothing so that failures are quick."""
    process = DynamicProviderProcess(log_path=tmp_path / "provider.log")
    process.start(env={"PREFECT_CLIENT_MAX_RETRIES": "0"})
    yield process
    process.stop()


def variable(name: str = "ct_api_errors") -> dict:
    return {"name": name, "value": 1, "__provider": serialize_provider(VariableProvider())}


def one_line_error(call: object) -> str:
    with pytest.raises(ProviderError) as raised:
        call()  # type: ignore[operator]
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message, message
    assert SECRET not in message
    return message


def test_an_unreachable_api(provider: DynamicProviderProcess) -> None:
    port = free_port()  # nothing listens there
    provider.configure({URL_KEY: f"http://admin:{SECRET}@127.0.0.1:{port}/api"})
    for call in (
        lambda: provider.create(VARIABLE_URN, variable()),
        lambda: provider.read(VARIABLE_URN, "id", variable(), variable()),
        lambda: provider.delete(VARIABLE_URN, "id", variable()),
    ):
        message = one_line_error(call)
        assert message.startswith(f"cannot reach the Prefect API at http://***@127.0.0.1:{port}/api (")
        assert "variable 'ct_api_errors'" in message
        assert message.endswith(
            "start the server (`make server` for the local one) or correct rpa-platform:prefectApiUrl"
        )
    assert SECRET not in provider.log_text()


@pytest.mark.parametrize("auth_string", [None, "admin:wrong"])
def test_refused_credentials(
    provider: DynamicProviderProcess, auth_server: PrefectServer, auth_string: str | None
) -> None:
    config = {URL_KEY: auth_server.api_url}
    if auth_string:
        config[config_keys.qualified(config_keys.AUTH_STRING)] = secret(auth_string)
    provider.configure(config)
    message = one_line_error(lambda: provider.create(VARIABLE_URN, variable()))
    assert message.startswith(
        f"the Prefect API at {auth_server.api_url} refused the stack's credentials (HTTP 401"
    )
    assert (
        "set rpa-platform:prefectApiKey or rpa-platform:prefectAuthString with `pulumi config set --secret`"
        in (message)
    )


def test_a_server_error(provider: DynamicProviderProcess, auth_server: PrefectServer) -> None:
    """A real 5xx: a rate limit decaying faster than the server can count (see bounds.py) breaks every read
    of it. Made here behind the stack's back, on a server of this module's own."""
    auth = ("admin", SECRET)
    name = f"ct-{uuid.uuid4().hex[:8]}-poisoned"
    created = httpx.post(
        f"{auth_server.api_url}/v2/concurrency_limits/",
        json={"name": name, "limit": 1, "slot_decay_per_second": 1e300},
        auth=auth,
    )
    assert created.status_code == 201, created.text
    provider.configure(
        {
            URL_KEY: auth_server.api_url,
            config_keys.qualified(config_keys.AUTH_STRING): secret(f"admin:{SECRET}"),
        }
    )
    limit = {"name": name, "limit": 1, "__provider": serialize_provider(GlobalConcurrencyLimitProvider())}
    try:
        message = one_line_error(lambda: provider.read(LIMIT_URN, created.json()["id"], limit, limit))
    finally:
        httpx.delete(f"{auth_server.api_url}/v2/concurrency_limits/{created.json()['id']}", auth=auth)
    assert message.startswith(f"the Prefect API at {auth_server.api_url} failed (HTTP 50")
    assert message.endswith(
        f"while reading global concurrency limit '{name}': see the server's log, then run this again"
    )


def stack_settings(api_url: str, auth_string: str | None = None) -> StackSettings:
    raw = {**valid(), "prefectApiUrl": api_url}
    if auth_string:
        raw["prefectAuthString"] = auth_string
    return parse_stack_settings("prod", "Pulumi.prod.yaml", raw)


@pytest.mark.parametrize(
    ("auth_string", "path", "expected"),
    [
        (None, "/api", "refused the stack's credentials (HTTP 401"),
        (f"admin:{SECRET}", "", "answered HTTP 404"),
    ],
)
def test_the_program_checks_the_api_before_declaring_anything(
    auth_server: PrefectServer, auth_string: str | None, path: str, expected: str
) -> None:
    api_url = auth_server.api_url.removesuffix("/api") + path
    with pytest.raises(pulumi.RunError) as raised:
        require_api(stack_settings(api_url, auth_string))
    message = str(raised.value)
    assert message.startswith("Pulumi.prod.yaml: ") and api_url in message and expected in message
    assert "\n" not in message and SECRET not in message
    require_api(stack_settings(auth_server.api_url, f"admin:{SECRET}"))

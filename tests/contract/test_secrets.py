"""Credentials reach Prefect through provider configuration only, and appear nowhere else: not in inputs,
outputs, the pickled provider, the provider's output, or its error messages."""

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import config_keys
from infra.prefect_resources.variable import VariableProvider
from infra.prefect_resources.work_pool import WorkPoolProvider
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.provider_protocol import (
    PROVIDER_KEY,
    DynamicProviderProcess,
    EngineStack,
    ProviderError,
    secret,
)

AUTH_STRING = f"admin:basic-{uuid.uuid4().hex}"
API_KEY = f"pnu_{uuid.uuid4().hex}"


def leaked_forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode(), value.split(":")[-1]]


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server that refuses requests without the basic-auth string."""
    home = tmp_path_factory.mktemp("guarded")
    server = PrefectServer(
        home=home / "home", port=free_port(), log_path=home / "server.log", auth_string=AUTH_STRING
    )
    server.start()
    yield server
    server.stop()


def provider_for(server: PrefectServer, tmp_path: Path, auth_string: str | None) -> DynamicProviderProcess:
    process = DynamicProviderProcess(log_path=tmp_path / "provider.log")
    # No Prefect credentials in the provider's environment: they must come from the stack's config.
    process.start(env={"PREFECT_API_URL": "", "PREFECT_API_KEY": "", "PREFECT_API_AUTH_STRING": ""})
    config = {
        config_keys.qualified(config_keys.API_URL): server.api_url,
        config_keys.qualified(config_keys.API_KEY): secret(API_KEY),
    }
    if auth_string:
        config[config_keys.qualified(config_keys.AUTH_STRING)] = secret(auth_string)
    process.configure(config)
    return process


def test_secret_config_authenticates_and_never_leaks(guarded_server: PrefectServer, tmp_path: Path) -> None:
    process = provider_for(guarded_server, tmp_path, AUTH_STRING)
    unique = uuid.uuid4().hex[:8]
    stacks = [
        EngineStack(process, "WorkPool", "pool", WorkPoolProvider()),
        EngineStack(process, "Variable", "variable", VariableProvider()),
    ]
    inputs = [
        {"name": f"guarded-{unique}", "type": "docker", "jobDefaults": {"image": "x:1"}},
        {"name": f"guarded_{unique}", "value": 15},
    ]
    errors = []
    try:
        for stack, props in zip(stacks, inputs, strict=True):
            assert stack.up(props) == "create"
            assert stack.up({**props, "adopt": False}) == "same"
            assert stack.refresh()
            try:  # An error path too: a clash with the object just made.
                EngineStack(process, stack.resource_type, "clash", stack.provider_object).up(props)
            except ProviderError as error:
                errors.append(str(error))
            stack.destroy()
    finally:
        process.stop()

    assert len(errors) == 2
    pickled = base64.b64decode(stacks[0].program_inputs({})[PROVIDER_KEY])
    searched = {
        "properties on the wire": "\n".join(line for stack in stacks for line in stack.wire_log),
        "pickled provider": pickled.decode("latin-1"),
        "provider process output": process.log_text(),
        "error messages": "\n".join(errors),
    }
    for secret_value in (AUTH_STRING, API_KEY):
        for form in leaked_forms(secret_value):
            for where, text in searched.items():
                assert form not in text, f"a form of a secret appears in {where}"


def test_wrong_credentials_fail_with_a_message_that_holds_no_secret(
    guarded_server: PrefectServer, tmp_path: Path
) -> None:
    wrong = f"admin:wrong-{uuid.uuid4().hex}"
    process = provider_for(guarded_server, tmp_path, wrong)
    stack = EngineStack(process, "Variable", "variable", VariableProvider())
    try:
        with pytest.raises(ProviderError, match="401") as refused:
            stack.up({"name": f"guarded_{uuid.uuid4().hex[:8]}", "value": 1})
    finally:
        process.stop()
    for form in leaked_forms(wrong) + leaked_forms(API_KEY):
        assert form not in str(refused.value)
        assert form not in process.log_text()

"""The flows' `RPA_*` environment (flows/runtime/run_settings.py): read in one model, refused with the variable's
name when invalid, and never silently the dev stack in a deployed run."""

import logging
import os
import uuid
from types import SimpleNamespace

import pytest

from flows.runtime import FlowEnvironmentError, RunSettings, run_settings
from flows.runtime.run_settings import FlowEnvironment
from flows.systems import endpoints
from rpa_naming import ENV_PREFIX, ENVIRONMENT_ENV_VAR, STACK_ENV_VAR

DEPLOYMENT = uuid.UUID("5f0c0de0-0000-4000-8000-000000000001")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)


@pytest.fixture
def warnings_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def test_a_set_environment_is_read_with_the_rpa_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STACK_ENV_VAR, "prod")
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "production")
    monkeypatch.setenv(endpoints.ERP_API_URL_ENV, "https://erp.example.com")
    monkeypatch.setenv(endpoints.DATABASE_URL_ENV, "postgresql+psycopg://rpa@db/rpa")
    environment = FlowEnvironment.read()
    assert environment.stack_and_environment(DEPLOYMENT) == ("prod", "production")
    assert environment.erp_api_url == "https://erp.example.com"
    assert environment.database_url == "postgresql+psycopg://rpa@db/rpa"


def test_a_deployed_run_without_rpa_stack_is_refused_naming_where_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "production")
    with pytest.raises(FlowEnvironmentError) as refused:
        FlowEnvironment.read().stack_and_environment(DEPLOYMENT)
    message = str(refused.value)
    assert message.startswith(f"{STACK_ENV_VAR} not set")
    assert ENVIRONMENT_ENV_VAR not in message
    for where in (str(DEPLOYMENT), "prefect.yaml", "job_variables.env", "work pool's base job template"):
        assert where in message


def test_a_deployed_run_without_rpa_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STACK_ENV_VAR, "prod")
    with pytest.raises(FlowEnvironmentError, match=f"^{ENVIRONMENT_ENV_VAR} not set"):
        FlowEnvironment.read().stack_and_environment(DEPLOYMENT)


def test_an_empty_rpa_stack_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # What prefect.yaml's `{{ $RPA_STACK }}` becomes when the deploying shell lacks it.
    monkeypatch.setenv(STACK_ENV_VAR, "")
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "production")
    with pytest.raises(FlowEnvironmentError, match=STACK_ENV_VAR):
        FlowEnvironment.read().stack_and_environment(DEPLOYMENT)


def test_a_local_run_defaults_to_dev_and_says_so(warnings_logged: pytest.LogCaptureFixture) -> None:
    assert FlowEnvironment.read().stack_and_environment(None) == ("dev", "development")
    [record] = warnings_logged.records
    assert record.levelno == logging.WARNING
    assert STACK_ENV_VAR in record.getMessage() and "'dev'" in record.getMessage()


def test_a_local_run_with_its_stack_set_logs_nothing(
    monkeypatch: pytest.MonkeyPatch, warnings_logged: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(STACK_ENV_VAR, "staging")
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "staging")
    assert FlowEnvironment.read().stack_and_environment(None) == ("staging", "staging")
    assert not warnings_logged.records


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (ENVIRONMENT_ENV_VAR, "prod", "'development', 'staging' or 'production'"),
        (STACK_ENV_VAR, "prod/eu", "should match pattern"),
        (STACK_ENV_VAR, " prod", "should match pattern"),
    ],
)
def test_an_invalid_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(FlowEnvironmentError) as refused:
        FlowEnvironment.read()
    assert f"{name}={value!r}" in str(refused.value)
    assert expected in str(refused.value)


def test_run_settings_refuse_a_deployed_run_without_its_stack_before_calling_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = SimpleNamespace(flow_run=SimpleNamespace(deployment_id=DEPLOYMENT))
    monkeypatch.setattr(run_settings.FlowRunContext, "get", classmethod(lambda cls: run))

    def no_server(**_: object) -> None:
        raise AssertionError("the environment must be checked before any server call")

    monkeypatch.setattr(run_settings, "get_client", no_server)
    with pytest.raises(FlowEnvironmentError, match=STACK_ENV_VAR):
        RunSettings.load("rpa3")


def test_a_flow_called_directly_is_not_a_deployed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    run = SimpleNamespace(flow_run=SimpleNamespace(deployment_id=None))
    monkeypatch.setattr(run_settings.FlowRunContext, "get", classmethod(lambda cls: run))
    assert run_settings._deployment_id() is None
    monkeypatch.setattr(run_settings.FlowRunContext, "get", classmethod(lambda cls: None))
    assert run_settings._deployment_id() is None

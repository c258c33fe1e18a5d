"""The flows' Variables are bounded by one rule, applied to the stack file (`make check`, the program) and
again by the flow run that reads them from the server: a timeout of 1e10 or infinity, a width of 1000, or
`"5"`, `true` and `2.0` where an integer belongs are refused, naming the Prefect Variable, never converted."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate

from flows.runtime import InvalidVariableError, RunSettings
from infra.stack_files.flow_requirements import flow_requirement_problems
from infra.stack_files.settings import StackSettings
from infra.stack_files.stack_config import from_stack_file, stack_file
from rpa_naming import ENVIRONMENT_ENV_VAR, ERP_API, adaptive_floor_variable_name, flow_variable_name

REFUSED = [
    ("timeout", 1e10),
    ("timeout", math.inf),
    ("timeout", 0),
    ("timeout", "30"),
    ("timeout", True),
    ("max_concurrent_tasks", 1000),
    ("max_concurrent_tasks", 0),
    ("max_concurrent_tasks", 2.0),
    ("max_concurrent_tasks", "5"),
    ("max_concurrent_tasks", True),
]
ACCEPTED = [("timeout", 86_400), ("timeout", 2.5), ("max_concurrent_tasks", 256), ("max_concurrent_tasks", 1)]


def with_variable(stack: StackSettings, key: str, value: object) -> StackSettings:
    platform = stack.platform.model_copy(update={"variables": {**stack.platform.variables, key: value}})
    return stack.model_copy(update={"config": stack.config.model_copy(update={"platform": platform})})


@pytest.mark.parametrize(("setting", "value"), REFUSED)
def test_a_stack_file_with_an_out_of_bounds_variable_is_refused_by_its_prefect_name(setting, value):
    stack = from_stack_file(stack_file("prod"))
    problems = flow_requirement_problems(with_variable(stack, f"rpa3_{setting}", value))
    assert [(p.property, p.reason.split(":")[0]) for p in problems] == [
        (f"platform.variables.rpa3_{setting}", f"Prefect Variable production_rpa3_{setting}")
    ]
    assert repr(value) in problems[0].reason


@pytest.mark.parametrize(("setting", "value"), ACCEPTED)
def test_values_within_the_bounds_pass(setting, value):
    stack = from_stack_file(stack_file("prod"))
    assert flow_requirement_problems(with_variable(stack, f"rpa3_{setting}", value)) == []


@contextmanager
def staging_rpa3_variables(**values: object) -> Iterator[None]:
    """rpa3's staging Variables on the server, as given (valid ones for what is not given); removed after."""
    values = {"max_concurrent_tasks": 4, "timeout": 30, **values}
    names = {setting: flow_variable_name("staging", "rpa3", setting) for setting in values}
    with get_client(sync_client=True) as client:
        for setting, value in values.items():
            client.create_variable(VariableCreate(name=names[setting], value=value))
        try:
            yield
        finally:
            for name in names.values():
                client.delete_variable_by_name(name)


# Not infinity (Prefect's client cannot store it) nor 2.0 (the server hands a whole float back as an int).
@pytest.mark.parametrize(("setting", "value"), [case for case in REFUSED if case[1] not in (math.inf, 2.0)])
def test_a_flow_run_refuses_an_out_of_bounds_variable_by_its_prefect_name(
    prefect_server, monkeypatch, setting, value
):
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "staging")
    with (
        staging_rpa3_variables(**{setting: value}),
        pytest.raises(InvalidVariableError, match=f"^Prefect Variable 'staging_rpa3_{setting}': .* \\(got "),
    ):
        RunSettings.load("rpa3")


def test_a_flow_run_reads_variables_within_the_bounds(prefect_server, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "staging")
    with staging_rpa3_variables(max_concurrent_tasks=256, timeout=2.5):
        settings = RunSettings.load("rpa3")
    assert (settings.max_concurrent_tasks, settings.timeout_seconds) == (256, 2.5)


@contextmanager
def staging_variable(name: str, value: object) -> Iterator[None]:
    with get_client(sync_client=True) as client:
        client.create_variable(VariableCreate(name=name, value=value))
        try:
            yield
        finally:
            client.delete_variable_by_name(name)


def test_a_flow_run_reads_which_limits_are_adaptive_and_refuses_a_bad_floor(prefect_server, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_ENV_VAR, "staging")
    floor = adaptive_floor_variable_name("staging", ERP_API)
    with staging_rpa3_variables():
        assert RunSettings.load("rpa3").adaptive_floors == {}  # no Variable: the fixed limit
        with staging_variable(floor, 3):
            assert RunSettings.load("rpa3").adaptive_floors == {ERP_API: 3}
        with (
            staging_variable(floor, "3"),
            pytest.raises(
                InvalidVariableError, match=f"^Prefect Variable '{floor}': an adaptive limit's floor"
            ),
        ):
            RunSettings.load("rpa3")

"""`make check`'s rules across stack files (each stack file alone cannot see the others): no two stacks write
one Prefect object on one server, and limits must not shrink from dev to staging to prod."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config_keys
from infra.cli import check
from infra.stack_files.between_stacks import (
    limits_shrinking_toward_production,
    objects_written_twice,
    same_server,
)
from infra.stack_files.settings import StackSettings
from infra.stack_files.stack_config import STACKS, from_stack_file, read_stack_document, stack_file

SHIPPED = [from_stack_file(stack_file(stack)) for stack in STACKS]


def edited(
    tmp_path: Path,
    stack: str,
    edit: Callable[[dict[str, Any]], None] = lambda _platform: None,
    as_stack: str = "",
) -> StackSettings:
    """The shipped stack with its `rpa-platform:platform` edited, read back from a file in `tmp_path` (named for
    `as_stack` when given)."""
    document = read_stack_document(stack_file(stack))
    edit(document["config"][config_keys.qualified(config_keys.PLATFORM)])
    path = stack_file(as_stack or stack, tmp_path)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return from_stack_file(path)


def test_shipped_stacks_write_no_object_twice() -> None:
    assert objects_written_twice(SHIPPED) == []


def test_two_stacks_of_one_environment_on_one_server_are_refused_naming_both_files_and_the_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second development stack on dev's server: its pools and limits carry its own stack name, but its
    Variables are development's, the same as dev's. `make check` fails on it."""
    for stack in STACKS:
        shutil.copy(stack_file(stack), tmp_path)
    shutil.copy(stack_file("dev").parent / "prefect.yaml", tmp_path)
    edited(tmp_path, "dev", as_stack="devtwo")

    assert check.main([str(tmp_path)]) == 1

    refused = capsys.readouterr().err.splitlines()
    assert (
        "one identity per stack: Pulumi.dev.yaml (platform.variables.rpa3_timeout) and Pulumi.devtwo.yaml "
        "(platform.variables.rpa3_timeout) both write variable 'development_rpa3_timeout' on "
        "http://127.0.0.1:4200/api: give one of them another environment or another prefectApiUrl"
    ) in refused
    written_twice = [line for line in refused if line.startswith("one identity per stack:")]
    assert len(written_twice) == len(SHIPPED[0].platform.variables)  # Variables only: nothing else is shared
    assert all(" both write variable " in line for line in written_twice)


def test_a_limit_whose_name_another_stack_gives_the_same_object_is_refused(tmp_path: Path) -> None:
    """A stack named `dev-erp` declaring limit `api` writes `dev-erp-api`, the dev stack's `erp-api` limit."""

    def renamed(platform: dict[str, Any]) -> None:
        platform["concurrencyLimits"].append({"name": "api", "limit": 1})

    other = edited(tmp_path, "staging", renamed, as_stack="dev-erp")
    problems = objects_written_twice([SHIPPED[0], other])
    assert any(
        "Pulumi.dev.yaml (platform.concurrencyLimits[0]) and Pulumi.dev-erp.yaml (platform.concurrencyLimits[3])"
        " both write global concurrency limit 'dev-erp-api'" in problem
        for problem in problems
    ), problems


def test_one_environment_on_two_servers_is_two_identities(tmp_path: Path) -> None:
    document = read_stack_document(stack_file("dev"))
    document["config"]["rpa-platform:prefectApiUrl"] = "http://127.0.0.1:4300/api"
    stack_file("devtwo", tmp_path).write_text(yaml.safe_dump(document, sort_keys=False))
    assert objects_written_twice([SHIPPED[0], from_stack_file(stack_file("devtwo", tmp_path))]) == []


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("http://127.0.0.1:4200/api", "HTTP://127.0.0.1:4200/api/", True),
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4201/api", False),
        ("http://127.0.0.1:4200/api", "https://127.0.0.1:4200/api", False),
    ],
)
def test_same_server(first: str, second: str, same: bool) -> None:
    assert same_server(first, second) is same


def test_shipped_stacks_grow_toward_production() -> None:
    assert limits_shrinking_toward_production(SHIPPED) == []


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_without_workers_still_grows_toward_production(tmp_path: Path, stack: str) -> None:
    """Its pools are served by workers run elsewhere: it has no worker capacity to compare."""
    without = edited(tmp_path, stack, lambda platform: platform.pop("workers"))
    stacks = [without if settings.stack == stack else settings for settings in SHIPPED]
    assert limits_shrinking_toward_production(stacks) == []


def test_prod_below_staging_is_refused(tmp_path: Path) -> None:
    def shrink(platform: dict[str, Any]) -> None:
        platform["pools"][0]["concurrencyLimit"] = 6
        platform["concurrencyLimits"][0]["limit"] = 7
        platform["variables"]["rpa3_max_concurrent_tasks"] = 3

    violations = limits_shrinking_toward_production([*SHIPPED[:2], edited(tmp_path, "prod", shrink)])
    assert "pool rpa-docker concurrencyLimit: prod has 6, below staging's 8" in violations
    assert "concurrency limit erp-api: prod has 7, below staging's 8" in violations
    assert "variable rpa3_max_concurrent_tasks: prod has 3, below staging's 8" in violations

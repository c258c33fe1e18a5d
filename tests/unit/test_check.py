"""`make check`'s rules across stack files (each stack file alone cannot see the others): limits must not
shrink from dev to staging to prod."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config_keys
from infra.between_stacks import limits_shrinking_toward_production
from infra.settings import StackSettings
from infra.stack_config import STACKS, from_stack_file, read_stack_document, stack_file

SHIPPED = [from_stack_file(stack_file(stack)) for stack in STACKS]


def edited(tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> StackSettings:
    """The shipped stack with its `rpa-platform:platform` edited, read back from a file in `tmp_path`."""
    document = read_stack_document(stack_file(stack))
    edit(document["config"][config_keys.qualified(config_keys.PLATFORM)])
    path = stack_file(stack, tmp_path)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return from_stack_file(path)


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

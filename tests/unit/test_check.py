"""`make check`'s rules across stack files (each stack file alone cannot see the others): host-networked
workers of different stacks on one Docker host must not share health ports, and limits must not shrink from
dev to staging to prod."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config_keys
from infra.between_stacks import limits_shrinking_toward_production, shared_host_port_clashes
from infra.settings import StackSettings
from infra.stack_config import STACKS, from_stack_file, read_stack_document, stack_file

SHIPPED = [from_stack_file(stack_file(stack)) for stack in STACKS]
DEV = SHIPPED[0]


def edited(tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> StackSettings:
    """The shipped stack with its `rpa-platform:platform` edited, read back from a file in `tmp_path`."""
    document = read_stack_document(stack_file(stack))
    edit(document["config"][config_keys.qualified(config_keys.PLATFORM)])
    path = stack_file(stack, tmp_path)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return from_stack_file(path)


def staging_with_worker(tmp_path: Path, old: str, new: str) -> StackSettings:
    text = stack_file("staging").read_text()
    assert old in text
    path = stack_file("staging", tmp_path)
    path.write_text(text.replace(old, new))
    return from_stack_file(path)


def test_the_shipped_stacks_use_separate_ports() -> None:
    assert shared_host_port_clashes(SHIPPED) == []


def test_overlapping_ports_on_one_host_are_named_with_both_files(tmp_path: Path) -> None:
    staging = staging_with_worker(tmp_path, "healthPort: 18200", "healthPort: 18099")
    assert shared_host_port_clashes([DEV, staging]) == [
        "Pulumi.staging.yaml: platform.workers (rpa-docker) healthPort: ports 18100-18100 are also used by "
        "Pulumi.dev.yaml (rpa-docker) on the same Docker host unix:///var/run/docker.sock; choose a free range"
    ]


def test_workers_on_different_hosts_may_share_ports(tmp_path: Path) -> None:
    staging = staging_with_worker(
        tmp_path, "healthPort: 18200", "healthPort: 18100, dockerHost: 'ssh://rpa@staging-host'"
    )
    assert shared_host_port_clashes([DEV, staging]) == []


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

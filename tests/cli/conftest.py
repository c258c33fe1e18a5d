"""Every test here drives the real Pulumi CLI (fixtures: tests/conftest.py). Those that run `pulumi` on a copy
of the project (the `project` or `battery_project` fixture) take more than 30 s alone: each command starts the
engine, the language host and the dynamic providers, and `project` destroys what its stacks made."""

from pathlib import Path

import pytest

RUNS_PULUMI = {"project", "battery_project"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.pulumi_cli)
            if RUNS_PULUMI & set(getattr(item, "fixturenames", ())):
                item.add_marker(pytest.mark.slow)

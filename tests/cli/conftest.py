"""Every test here drives the real Pulumi CLI (fixtures: tests/conftest.py)."""

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.pulumi_cli)

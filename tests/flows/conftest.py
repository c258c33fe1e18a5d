"""Fixtures for flow and runtime tests: a real demo ERP per test, and a fresh stack on the session's real
Prefect server (its limits named `<stack>-<resource>`, created with the Prefect client like the stack does)."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.demo_erp.admin import DemoErpAdmin
from flows.demo_erp.launcher import DemoErpProcess
from tests.flows.stack import StackUnderTest
from tests.support.prefect_server import PrefectServer, free_port


@pytest.fixture
def demo_erp() -> Iterator[tuple[DemoErpAdmin, str]]:
    process = DemoErpProcess(port=free_port())
    admin = process.start()
    try:
        yield admin, process.url
    finally:
        admin.close()
        process.stop()


@pytest.fixture
def new_stack(prefect_server: PrefectServer, tmp_path: Path) -> Callable[..., StackUnderTest]:
    """`new_stack(erp_api=3, erp_api_rate=(limit, per_second), db_write=1)`: a stack with those limits."""

    def create(**limits: int | tuple[int, float] | None) -> StackUnderTest:
        stack = StackUnderTest(name=f"t{uuid.uuid4().hex[:8]}", database_path=tmp_path / "results.db")
        stack.create_limits(**limits)
        return stack

    return create

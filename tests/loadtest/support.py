"""What the load-test tests share: a stack made the way tests/flows/stack.py makes one, and the tool run as
people run it, bounded."""

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.flows.stack import ENVIRONMENT, StackUnderTest, set_flow_variables
from tests.support.bounded_process import run_bounded

WIDTH = 3


def loadtest(
    *args: str, timeout: float = 300, context: Callable[[], str] = str
) -> subprocess.CompletedProcess[str]:
    return run_bounded(
        [sys.executable, "-m", "tools.loadtest", "--environment", ENVIRONMENT, *args],
        timeout,
        context=context,
    )


def make_stack(tmp_path: Path, erp_api: int = 3) -> StackUnderTest:
    stack = StackUnderTest(name=f"t{uuid.uuid4().hex[:8]}", database_path=tmp_path / "results.db")
    stack.create_limits(erp_api=erp_api, erp_api_rate=(8, 8.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=WIDTH, timeout_seconds=30)
    return stack

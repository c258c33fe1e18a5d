"""A command-line tool run by a test, bounded: one still running after its timeout is killed with everything it
started (its own session: the load test's demo ERP, its flow-run processes), and the test fails with its output."""

import os
import signal
import subprocess
from collections.abc import Callable

import pytest


def run_bounded(
    command: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    context: Callable[[], str] = str,
) -> subprocess.CompletedProcess[str]:
    """`context()` is added to the failure message (a worker's log tail, say)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"{' '.join(command)} did not finish within {timeout:g} s and was killed; it printed:\n"
            f"{stdout}{stderr}\n{context()}"
        )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

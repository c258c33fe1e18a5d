"""What the load-test tests share: a stack made the way tests/flows/stack.py makes one, and the tool run as
people run it, bounded; or started in the background, to be interrupted or killed."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.flows.stack import ENVIRONMENT, StackUnderTest, set_flow_variables
from tests.support.bounded_process import run_bounded

WIDTH = 3
# Runs what follows `-c ...` with SIGINT ignored, as a background job of a shell without job control runs:
# exec keeps an ignored signal ignored, so the tool itself must take Ctrl-C back.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def loadtest(
    *args: str, timeout: float = 300, context: Callable[[], str] = str
) -> subprocess.CompletedProcess[str]:
    return run_bounded(
        [sys.executable, "-m", "tools.loadtest", "--environment", ENVIRONMENT, *args],
        timeout,
        context=context,
    )


@contextmanager
def loadtest_in_background(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """The tool started with SIGINT ignored, its output in output_path(tmp_path). In a session of its own: one
    still running afterwards is killed with its group (its local flow runs; its demo ERP then ends by itself).
    Its temporary files are made in `tmp_path`: one killed leaves them there, not in the machine's /tmp."""
    command = [sys.executable, "-c", IGNORING_SIGINT, "-m", "tools.loadtest", "--environment", ENVIRONMENT]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with output_path(tmp_path).open("w") as output:
        process = subprocess.Popen(
            [*command, *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(temporary)},
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def output_path(tmp_path: Path) -> Path:
    return tmp_path / "output.txt"


def catches_sigint(pid: int) -> bool:
    """Whether the process has a handler of its own for SIGINT (its SigCgt mask in /proc), rather than
    ignoring it or dying of it."""
    status = Path(f"/proc/{pid}/status").read_text()
    [caught] = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    return bool(int(caught, 16) >> (signal.SIGINT - 1) & 1)


def ctrl_c(process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    """SIGINT, as Ctrl-C sends it, once the tool listens for it: a tool deaf to it fails here, by name, rather
    than after the test's bound on its exit."""
    output = output_path(tmp_path)
    assert process.poll() is None, output.read_text()
    assert catches_sigint(process.pid), f"tools.loadtest ignores SIGINT\n{output.read_text()}"
    process.send_signal(signal.SIGINT)


def make_stack(tmp_path: Path, erp_api: int = 3) -> StackUnderTest:
    stack = StackUnderTest(name=f"t{uuid.uuid4().hex[:8]}", database_path=tmp_path / "results.db")
    stack.create_limits(erp_api=erp_api, erp_api_rate=(8, 8.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=WIDTH, timeout_seconds=30)
    return stack

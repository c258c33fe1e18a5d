"""The benchmarks' flow-run processes: each in a session of its own, so that stopping one reaches whatever
it started; waited for up to a shared deadline, then stopped."""

import contextlib
import os
import signal
import subprocess
import sys
import time

STOP_GRACE_SECONDS = 15.0


def exit_on_sigterm() -> None:
    """A benchmark stopped with SIGTERM (`kill`, a job's time limit) leaves through its `finally` blocks and
    context managers, as on Ctrl-C: the Prefect servers and the demo ERP it started stop with it, instead
    of serving on, orphaned."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def wait_all_or_stop(processes: list[subprocess.Popen[bytes]], deadline: float) -> bool:
    """True if all exited by `deadline` (time.time()); otherwise every one still running is stopped (SIGTERM
    to its group, SIGKILL after the grace) and False is returned. They are stopped too if the wait is cut
    short by the benchmark's own end."""
    try:
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                break
        else:
            return True
    except BaseException:  # the benchmark itself stopped (SIGTERM, Ctrl-C): its flow runs stop with it
        stop(processes)
        raise
    stop(processes)
    return False


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

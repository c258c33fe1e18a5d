"""Start the demo ERP in a child process on 127.0.0.1 and wait until it answers.

The child runs in a session of its own, so stopping it reaches whatever it started, and ends by itself when
this process does, however it ends (parent_watch.py). It writes its output to a file, whose last lines go into
every error: a load test or a test that loses its ERP says why; a file the launcher made itself is removed on
stop(). Waits bound a hang, not the machine's speed (it answers within 1-2 s on a quiet machine)."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.demo_erp.admin import DemoErpAdmin

UP_BOUND_SECONDS = 120.0
STOP_BOUND_SECONDS = 30.0
OUTPUT_TAIL_LINES = 40


@dataclass
class DemoErpProcess:
    port: int
    latency_seconds: float = 0.05
    log_path: Path | None = None  # a temporary file when not given, removed on stop()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _own_log: bool = field(default=False, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        log = self.log_path
        text = log.read_text(errors="replace") if log is not None and log.exists() else ""
        return f"demo ERP output ({log}), last lines:\n" + "\n".join(text.splitlines()[-OUTPUT_TAIL_LINES:])

    def start(self, timeout: float = UP_BOUND_SECONDS) -> DemoErpAdmin:
        if self.log_path is None:
            descriptor, name = tempfile.mkstemp(prefix=f"demo-erp-{self.port}-", suffix=".log")
            os.close(descriptor)
            self.log_path, self._own_log = Path(name), True
        command = [sys.executable, "-m", "tools.demo_erp", "--port", str(self.port)]
        command += ["--exit-with-parent", str(os.getpid())]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--latency", str(self.latency_seconds)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        admin = DemoErpAdmin(self.url)
        deadline = time.monotonic() + timeout
        while not admin.is_healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                admin.close()
                tail = self.tail()  # before stop() removes a log of its own
                self.stop()
                raise RuntimeError(f"demo ERP did not answer on {self.url} within {timeout:.0f} s\n{tail}")
            time.sleep(0.1)
        return admin

    def stop(self) -> None:
        """SIGTERM to its group, SIGKILL to the group if it has not ended within the bound."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_BOUND_SECONDS)
            with contextlib.suppress(ProcessLookupError):  # a hung ERP, and anything left in its group
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

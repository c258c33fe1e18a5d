"""The demo ERP for one test, as flows/demo_erp/launcher.py starts it, but bounded the way every child
process of the suite is: in a session of its own (stopping it reaches whatever it started), its output in a
file, waits that bound a hang rather than the machine's speed, and the tail of that output in every error."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.demo_erp.admin import DemoErpAdmin

UP_BOUND_SECONDS = 120  # answers within 1-2 s on a quiet machine
STOP_BOUND_SECONDS = 30
OUTPUT_TAIL_LINES = 40


@dataclass
class DemoErpUnderTest:
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"demo ERP output ({self.log_path}), last lines:\n" + "\n".join(
            text.splitlines()[-OUTPUT_TAIL_LINES:]
        )

    def start(self) -> DemoErpAdmin:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.demo_erp", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        admin = DemoErpAdmin(self.url)
        deadline = time.monotonic() + UP_BOUND_SECONDS
        while not admin.is_healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                admin.close()
                self.stop()
                raise RuntimeError(
                    f"demo ERP did not answer on {self.url} within {UP_BOUND_SECONDS} s\n{self.tail()}"
                )
            time.sleep(0.1)
        return admin

    def stop(self) -> None:
        """SIGTERM to its group, SIGKILL to the group if it has not ended within the bound."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_BOUND_SECONDS)
        with contextlib.suppress(ProcessLookupError):  # a hung ERP, and anything left in its group
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

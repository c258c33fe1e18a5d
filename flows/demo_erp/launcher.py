"""Start the demo ERP in a child process on 127.0.0.1 and wait until it answers."""

import subprocess
import sys
import time
from dataclasses import dataclass, field

from flows.demo_erp.admin import DemoErpAdmin


@dataclass
class DemoErpProcess:
    port: int
    latency_seconds: float = 0.05
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> DemoErpAdmin:
        command = [sys.executable, "-m", "flows.demo_erp", "--port", str(self.port)]
        self.process = subprocess.Popen([*command, "--latency", str(self.latency_seconds)])
        admin = DemoErpAdmin(self.url)
        deadline = time.monotonic() + timeout
        while not admin.is_healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"demo ERP did not come up on {self.url}")
            time.sleep(0.1)
        return admin

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

"""A real Prefect server for the test session: `prefect server start` on 127.0.0.1, a free port, SQLite in a
temporary PREFECT_HOME, analytics off, leases on disk like every server the project starts. Nothing is faked:
tests talk to it over HTTP like production does."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from local_prefect_server.server_settings import FILESYSTEM_LEASES, server_command, server_settings
from local_prefect_server.server_settings import OFFLINE as OFFLINE_ENV  # noqa: F401 (re-exported for the tests)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrefectServer:
    home: Path
    port: int
    log_path: Path
    auth_string: str | None = None
    lease_storage: str = FILESYSTEM_LEASES  # Prefect's default (in memory) only to show what it loses
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **server_settings(self.home, self.lease_storage)}
        env.pop("PREFECT_API_URL", None)
        if self.auth_string:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string
        return env

    def start(self, timeout: float = 120.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # a restart's log follows the first one's
            self.process = subprocess.Popen(
                server_command("127.0.0.1", self.port),
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        auth = tuple(self.auth_string.split(":", 1)) if self.auth_string else None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited early; log:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2, auth=auth).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"prefect server not healthy after {timeout}s; log:\n{self.log_path.read_text()[-4000:]}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it: nothing is flushed or given back."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def auth_server(password: str) -> Iterator[PrefectServer]:
    """A server of its own that requires the basic-auth string `admin:<password>`, stopped afterwards."""
    home = Path(tempfile.mkdtemp(prefix="rpa-platform-auth-"))
    server = PrefectServer(
        home=home / "prefect-home",
        port=free_port(),
        log_path=home / "server.log",
        auth_string=f"admin:{password}",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()

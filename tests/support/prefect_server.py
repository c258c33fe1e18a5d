"""A real Prefect server for the test session: `prefect server start` on 127.0.0.1, a free port, SQLite in a
temporary PREFECT_HOME, analytics off, leases on disk like every server the project starts. Nothing is faked:
tests talk to it over HTTP like production does.

The server runs in a session of its own: stopping or killing it reaches whatever it started. Its waits are
bounds on hangs (about ten times a quiet machine's), never on speed; a server that outlives one is killed
and the error holds the tail of its log."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from local_prefect_server.server_settings import FILESYSTEM_LEASES, server_command, server_settings
from local_prefect_server.server_settings import OFFLINE as OFFLINE_ENV  # noqa: F401 (re-exported for the tests)
from tests.support.ports import free_port
from tests.support.postgres import postgres_bin_dir, throwaway_cluster
from tests.support.temp_dirs import temp_dir

START_BOUND_SECONDS = 300  # healthy in 5-15 s on a quiet machine; a loaded one must not fail here
STOP_BOUND_SECONDS = (
    60  # after SIGTERM, before SIGKILL: it finishes in-flight requests and closes its database
)
LOG_TAIL_CHARS = 4000
DATABASES = ("sqlite", "postgresql")  # what a server of the benchmark or the load proof may keep its state in


@dataclass
class PrefectServer:
    home: Path
    port: int
    log_path: Path
    auth_string: str | None = None
    lease_storage: str = FILESYSTEM_LEASES  # Prefect's default (in memory) only to show what it loses
    database_url: str | None = None  # postgresql+asyncpg://...; SQLite in `home` when None
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **server_settings(self.home, self.lease_storage, self.database_url)}
        env.pop("PREFECT_API_URL", None)
        if self.auth_string:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string
        return env

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"server log ({self.log_path}), its end:\n{text[-LOG_TAIL_CHARS:]}"

    def start(self, timeout: float = START_BOUND_SECONDS) -> None:
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
                self._signal_group(signal.SIGKILL)  # whatever it started may still be running
                raise RuntimeError(
                    f"prefect server exited early (exit {self.process.returncode}); {self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2, auth=auth).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"prefect server not healthy within {timeout:g} s and stopped; {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to its process group; SIGKILL to the group if it has not ended within the bound."""
        if self.process is None or self.process.returncode is not None:
            return  # never started, or ended and reaped already (its group killed then)
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_BOUND_SECONDS)
        self._signal_group(signal.SIGKILL)  # the server, if it hung, and anything left in its group

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it: nothing is flushed or given back."""
        if self.process is not None and self.process.returncode is None:
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        """Its session's process group. Sent only until the server is reaped, and then once more at once: a
        group id is not reused while members remain, but may be soon after."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        if signum == signal.SIGKILL:
            self.process.wait()


@contextmanager
def auth_server(password: str) -> Iterator[PrefectServer]:
    """A server of its own that requires the basic-auth string `admin:<password>`, stopped afterwards."""
    with temp_dir("auth") as home:
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


@contextmanager
def server_on(database: str, workdir: Path) -> Iterator[PrefectServer]:
    """A fresh server on `database` ("sqlite": in its home; "postgresql": a throwaway cluster from the
    machine's PostgreSQL package), its files under `workdir`; stopped afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        database_url = None
        if database == "postgresql":
            bin_dir = postgres_bin_dir()
            if bin_dir is None:
                raise RuntimeError("a server on PostgreSQL needs its initdb: apt-get install postgresql")
            # A directory of its own: the cluster runs as `postgres`, which must reach it (workdir is root's).
            # Removed after the cluster stops (the stack unwinds in reverse).
            cluster_dir = stack.enter_context(temp_dir("postgresql"))
            url = stack.enter_context(throwaway_cluster(bin_dir, cluster_dir))
            database_url = url.replace("+psycopg", "+asyncpg")  # the server's driver
        server = PrefectServer(
            home=workdir / "prefect-home",
            port=free_port(),
            log_path=workdir / "server.log",
            database_url=database_url,
        )
        server.start()
        stack.callback(server.stop)
        yield server

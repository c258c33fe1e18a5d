"""A Prefect server in the foreground of a detached process, for `make server` and `make server-stop`.

`prefect server start --background` leaves the server writing into pipes that nobody reads once the CLI has
exited, so its first line on stderr kills it (EPIPE). Here the server runs in a session of its own with its
output in a log file, and its pid in a pid file of ours (Prefect's `server.pid` belongs to --background).

Each start appends to the log after a line saying when it started: a server that crashed keeps its last lines
(its errors, or what it was doing when killed) when the next one starts."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from local_prefect_server.server_settings import server_command, server_settings

_LOG_TAIL_LINES = 30


class ServerError(RuntimeError):
    """The server could not be started or stopped; the message says why."""


@dataclass(frozen=True)
class DetachedServer:
    host: str
    port: int
    home: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "local-server.pid"

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout_seconds: float = 120.0) -> str:
        """Start the server unless one answers already; returns what happened, raises ServerError why not."""
        if self.answers():
            return f"A Prefect server already answers on {self.url}"
        pid = self._recorded_pid()
        if pid is not None:
            raise ServerError(
                f"The server started earlier (pid {pid}) is running but does not answer on {self.url}; "
                f"`make server-stop` stops it.{self._log_tail()}"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            started_at = log.tell()
            now = datetime.now().astimezone()
            log.write(f"--- {now:%Y-%m-%d %H:%M:%S %z} starting on {self.url}\n".encode())
            log.flush()  # before the server's own lines, which it writes to the same file
            process = subprocess.Popen(
                server_command(self.host, self.port),
                env={**os.environ, **server_settings(self.home)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives make, and is stopped as a group
            )
        self.pid_path.write_text(f"{process.pid}\n")
        deadline = time.monotonic() + timeout_seconds
        while not self.answers():
            if process.poll() is not None:
                self.pid_path.unlink(missing_ok=True)
                raise ServerError(
                    f"The Prefect server exited with code {process.returncode} before answering on "
                    f"{self.url}.{self._log_tail(started_at)}"
                )
            if time.monotonic() > deadline:
                self._terminate(process.pid)
                raise ServerError(
                    f"The Prefect server did not answer on {self.url} within {timeout_seconds:g} s; "
                    f"stopped it.{self._log_tail(started_at)}"
                )
            time.sleep(0.5)
        return f"Prefect server started on {self.url} (pid {process.pid}, log {self.log_path})"

    def stop(self) -> str:
        pid = self._recorded_pid()
        if pid is None:
            return f"No server started by `make server` is running (no live pid in {self.pid_path})"
        self._terminate(pid)
        return f"Stopped the Prefect server (pid {pid})"

    def _recorded_pid(self) -> int | None:
        """The pid in the pid file if that process is still our server; a stale pid file is removed."""
        try:
            pid = int(self.pid_path.read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError):
            self.pid_path.unlink(missing_ok=True)
            return None
        if b"prefect" not in command or b"server" not in command:  # the pid was reused by another program
            self.pid_path.unlink(missing_ok=True)
            return None
        return pid

    def _terminate(self, pid: int, grace_seconds: float = 30.0) -> None:
        if _group_alive(pid):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def _log_tail(self, since: int = 0) -> str:
        """The last lines of the log from byte `since` on (where a start began: not an earlier server's)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                lines = log.read().decode(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except FileNotFoundError:
            return ""
        return f"\nLast lines of {self.log_path}:\n" + "\n".join(f"  {line}" for line in lines)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True

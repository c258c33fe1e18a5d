"""`make server` runs the Prefect server detached, with its output in a log file: it keeps serving however
much it writes (`prefect server start --background` died at its first stderr line, at once with debug
logging), answers "already running" when a server answers, says why when it cannot start, keeps the log of
a server that crashed when the next one starts, and `make server-stop` stops the server it started."""

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.prefect_server import free_port

REPO = Path(__file__).resolve().parents[2]


def make(target: str, port: int, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "DEBUG"}  # every request logs: stderr never goes quiet
    env.pop("PREFECT_API_URL", None)
    try:
        return subprocess.run(
            ["make", "-s", target, f"SERVER_PORT={port}", f"PREFECT_HOME={home}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"make {target} did not finish: {expired.stdout}{expired.stderr}")


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def server_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    yield port
    make("server-stop", port, tmp_path / "home")


def test_make_server_keeps_serving_while_it_logs_and_stops_by_its_pid_file(server_port, tmp_path):
    home = tmp_path / "home"
    started = make("server", server_port, home)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = (home / "local-server.pid").read_text().strip()

    for _ in range(50):  # each request is a debug line on the server's stderr
        assert answers(server_port), (home / "server.log").read_text()[-4000:]
    assert "DEBUG" in (home / "server.log").read_text()

    again = make("server", server_port, home)
    assert again.returncode == 0 and "already answers" in again.stdout
    assert (home / "local-server.pid").read_text().strip() == pid

    stopped = make("server-stop", server_port, home)
    assert stopped.returncode == 0 and pid in stopped.stdout
    assert not answers(server_port)
    assert not (home / "local-server.pid").exists()


def test_make_server_says_why_it_could_not_start(tmp_path):
    home = tmp_path / "home"
    with socket.socket() as squatter:  # the port is taken by something that is not a Prefect server
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        failed = make("server", port, home)

    assert failed.returncode != 0
    assert f"Port {port} is already in use" in failed.stderr  # Prefect's own words, from the log's tail
    assert not (home / "local-server.pid").exists()


def test_a_restart_keeps_the_log_of_the_server_that_crashed(server_port, tmp_path):
    home = tmp_path / "home"
    assert make("server", server_port, home).returncode == 0
    os.killpg(int((home / "local-server.pid").read_text()), signal.SIGKILL)  # a crash: nothing flushed
    first = (home / "server.log").read_text()

    restarted = make("server", server_port, home)

    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    log = (home / "server.log").read_text()
    assert log.startswith(first)  # the crashed server's lines, all of them, then the next one's
    starts = [line for line in log.splitlines() if line.startswith("--- ") and "starting on" in line]
    assert len(starts) == 2 and f":{server_port}/api" in starts[1]
    assert "Check out the dashboard" in first  # what the first server printed

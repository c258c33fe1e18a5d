"""Session-wide: one real Prefect server, this process pointed at it before Prefect is imported, and the
dynamic-provider process the Pulumi engine would start, configured for that server. Per test package that
drives the real Pulumi CLI (tests/cli, tests/e2e): a fresh server of its own, and copies of the project.
At the session's end, whatever it left behind (a process still running, a temporary directory) fails it."""

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prefect_server import OFFLINE_ENV, PrefectServer, free_port
from tests.support.processes import kill_session_processes, mark_session
from tests.support.temp_dirs import left_behind, make_temp_dir, remove_temp_dir, temp_dir

mark_session()  # before anything is started: every process the session starts carries its mark
_session_dir = make_temp_dir("tests")
_server = PrefectServer(
    home=_session_dir / "prefect-home", port=free_port(), log_path=_session_dir / "server.log"
)

# Prefect reads its settings from the environment: set them before any test module imports prefect, so every
# client in this process (and every subprocess it starts) talks to the session's server.
os.environ.update(OFFLINE_ENV)
os.environ["PREFECT_HOME"] = str(_server.home)
os.environ["PREFECT_API_URL"] = _server.api_url
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from prefect.client.orchestration import SyncPrefectClient, get_client  # noqa: E402

from infra import config_keys  # noqa: E402
from infra.stack_files.settings import DEFAULT_DOCKER_HOST  # noqa: E402
from tests.support.provider_protocol import DynamicProviderProcess  # noqa: E402
from tests.support.pulumi_cli import PulumiProject, pulumi_cli_or_skip  # noqa: E402
from tests.support.stack_workers import remove_worker_containers  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    _server.start()
    yield _server
    _server.stop()


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _session_dir


@pytest.hookimpl(trylast=True)  # after pytest's own sessionfinish has torn every fixture down
def pytest_sessionfinish(session: pytest.Session) -> None:
    """What the session started and left running is killed, what it made and left is removed, and both fail
    the session by name: a test whose cleanup raised, or a child that outlived its killed parent."""
    processes = kill_session_processes()
    remove_temp_dir(_session_dir)
    directories = left_behind()
    for directory in directories:
        remove_temp_dir(directory)
    if not processes and not directories:
        return
    title = "the session left these behind (now killed or removed)"
    lines = [f"process {process.pid}: {process.command[:200]}" for process in processes]
    lines += [f"directory {directory}" for directory in directories]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:  # -p no:terminal
        print(f"{title}:", *lines, sep="\n", file=sys.stderr)
    else:
        reporter.write_line("")  # ends the progress line
        reporter.write_sep("=", title, red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure() -> None:
    """Also when no session ran (`pytest --help`): the directory was made when this module was imported."""
    remove_temp_dir(_session_dir)


@pytest.fixture(scope="session")
def provider_process(prefect_server: PrefectServer) -> Iterator[DynamicProviderProcess]:
    """`python -m pulumi.dynamic`, configured with the stack config key for the session's server."""
    process = DynamicProviderProcess(log_path=_session_dir / "provider.log")
    process.start()
    process.configure({config_keys.qualified(config_keys.API_URL): prefect_server.api_url})
    yield process
    process.stop()


@pytest.fixture
def client(prefect_server: PrefectServer) -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as prefect_client:
        yield prefect_client


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="package")
def cli_server() -> Iterator[PrefectServer]:
    """A fresh server for one test package, so that what its stacks leave on it is exactly what it checks."""
    pulumi_cli_or_skip()
    with temp_dir("cli") as home:
        server = PrefectServer(home=home / "prefect-home", port=free_port(), log_path=home / "server.log")
        server.start()
        yield server
        server.stop()


@pytest.fixture
def cli_client(cli_server: PrefectServer) -> Iterator[SyncPrefectClient]:
    with SyncPrefectClient(cli_server.api_url) as client:
        yield client


def destroyed(project: PulumiProject, hosts: tuple[str, ...] = (DEFAULT_DOCKER_HOST,)) -> None:
    """Every stack of the copy destroyed; worker containers that `destroy` did not remove from `hosts` are
    removed, and fail the test."""
    failures: list[str] = []
    try:
        stacks = project.stacks()
    except AssertionError as error:
        stacks, failures = [], [str(error)]
    for stack in stacks:
        try:
            project.destroy(stack)
        except AssertionError as error:  # the others are still destroyed: they share the package's server
            failures.append(str(error))
    left = remove_worker_containers(project.api_url, hosts)
    assert not failures, "\n\n".join(failures)
    assert not left, f"`pulumi destroy` left worker containers behind: {left}"


@pytest.fixture
def project(tmp_path: Path, cli_server: PrefectServer) -> Iterator[PulumiProject]:
    """A copy of the project targeting the package's server, without worker containers; whatever its stacks
    made is destroyed after."""
    project = PulumiProject.copy(tmp_path, cli_server.api_url)
    yield project
    destroyed(project)


@pytest.fixture
def project_with_workers(tmp_path: Path, cli_server: PrefectServer) -> Iterator[PulumiProject]:
    """A copy of the project whose stacks keep their worker containers (pulumi-docker, the local engine)."""
    project = PulumiProject.copy(tmp_path, cli_server.api_url, workers=True)
    yield project
    destroyed(project)

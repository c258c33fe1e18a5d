"""The real Pulumi CLI against a Prefect server of these tests' own: fresh, so that what the stacks leave on it
is exactly what the tests look at."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from tests.support.prefect_server import PrefectServer, free_port
from tests.support.pulumi_cli import PulumiProject, pulumi_cli_or_skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.pulumi_cli)


@pytest.fixture(scope="package")
def cli_server() -> Iterator[PrefectServer]:
    pulumi_cli_or_skip()
    home = Path(tempfile.mkdtemp(prefix="rpa-platform-cli-"))
    server = PrefectServer(home=home / "prefect-home", port=free_port(), log_path=home / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cli_client(cli_server: PrefectServer) -> Iterator[SyncPrefectClient]:
    with SyncPrefectClient(cli_server.api_url) as client:
        yield client


@pytest.fixture
def project(tmp_path: Path, cli_server: PrefectServer) -> Iterator[PulumiProject]:
    """A copy of the project targeting the test server; whatever its stacks made is destroyed afterwards."""
    project = PulumiProject.copy(tmp_path, cli_server.api_url)
    yield project
    for stack in ("dev", "staging", "prod"):
        if project.pulumi("stack", "select", stack, expect=None).returncode == 0:
            project.destroy(stack)

"""Fixtures for flow and runtime tests: a real demo ERP per test, a fresh stack on the session's real
Prefect server (its limits named `<stack>-<resource>`, created with the Prefect client like the stack does),
and, for tests that kill and restart it, a Prefect server of the test's own."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prefect.events.worker import EventsWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from local_prefect_server.server_settings import FILESYSTEM_LEASES
from tests.flows.stack import StackUnderTest
from tests.support.prefect_server import PrefectServer, free_port
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.launcher import DemoErpProcess


@pytest.fixture
def demo_erp(tmp_path: Path) -> Iterator[tuple[DemoErpAdmin, str]]:
    process = DemoErpProcess(port=free_port(), log_path=tmp_path / "demo-erp.log")
    admin = process.start()
    try:
        yield admin, process.url
    finally:
        admin.close()
        process.stop()


@pytest.fixture
def new_stack(prefect_server: PrefectServer, tmp_path: Path) -> Iterator[Callable[..., StackUnderTest]]:
    """`new_stack(erp_api=3, erp_api_rate=(limit, per_second), db_write=1)`: a stack with those limits. Its
    flow runs still running when the test ends are killed."""
    stacks: list[StackUnderTest] = []

    def create(**limits: int | tuple[int, float] | None) -> StackUnderTest:
        stack = StackUnderTest(name=f"t{uuid.uuid4().hex[:8]}", database_path=tmp_path / "results.db")
        stack.create_limits(**limits)
        stacks.append(stack)
        return stack

    yield create
    for stack in stacks:
        stack.kill_flow_runs()


# Drains may wait for a server that is down to come back: a bound on that, never reached on a quiet machine.
DRAIN_BOUND_SECONDS = 60


def stop_prefect_workers() -> None:
    """Prefect's events and log workers send to the server they started with, for the life of the process:
    stopped (once they have sent what they hold), they start again when next used, on the settings of the
    thread that uses them first."""
    EventsWorker.drain_all(timeout=DRAIN_BOUND_SECONDS, at_exit=False)  # every QueueService: logs too


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., PrefectServer]]:
    """`own_server(lease_storage=...)`: a Prefect server for this test alone, started; this process's clients
    (its events and log workers too) and the flow runs the test starts talk to it instead of the session's
    server."""
    servers: list[PrefectServer] = []
    with ExitStack() as pointed:

        def start(lease_storage: str = FILESYSTEM_LEASES) -> PrefectServer:
            server = PrefectServer(
                home=tmp_path / "own-home",
                port=free_port(),
                log_path=tmp_path / "own-server.log",
                lease_storage=lease_storage,
            )
            servers.append(server)
            server.start()
            monkeypatch.setenv("PREFECT_API_URL", server.api_url)
            pointed.enter_context(temporary_settings(updates={PREFECT_API_URL: server.api_url}))
            stop_prefect_workers()
            # Started here, on these settings: a thread of the runtime's sees the settings Prefect read at
            # import (the session's server), whatever this thread's are.
            EventsWorker.instance()
            return server

        try:
            yield start
        finally:
            if servers:
                stop_prefect_workers()  # while their server still answers
            for server in servers:
                server.stop()

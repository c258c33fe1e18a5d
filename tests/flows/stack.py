"""A stack as the flows see it, made on the test's Prefect server: its limits, the environment's Variables,
and flow runs started as separate processes the way a worker starts them (one process per flow run)."""

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
)
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterStartTime,
    TaskRunFilter,
    TaskRunFilterName,
    TaskRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun, TaskRun

from flows.runtime import RunSettings
from flows.systems.endpoints import DATABASE_URL_ENV, ERP_API_URL_ENV
from rpa_naming import ENVIRONMENT_ENV_VAR, STACK_ENV_VAR, concurrency_limit_name, flow_variable_name

ENVIRONMENT = "development"


@dataclass(frozen=True)
class StackUnderTest:
    name: str
    database_path: Path
    flow_runs: list[subprocess.Popen[str]] = field(default_factory=list)  # killed at the test's end if alive

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database_path}"

    def query(self, sql: str) -> list[tuple[object, ...]]:
        """Read the results database the flows wrote (SQLite here)."""
        with sqlite3.connect(self.database_path) as connection:
            return connection.execute(sql).fetchall()

    def limit_name(self, resource: str) -> str:
        return concurrency_limit_name(self.name, resource)

    def create_limits(self, **limits: int | tuple[int, float] | None) -> None:
        """Keyword per resource, `-` written `_`: an int is a concurrency limit, (limit, per_second) a rate."""
        with get_client(sync_client=True) as client:
            for resource, spec in limits.items():
                if spec is None:
                    continue
                limit, decay = spec if isinstance(spec, tuple) else (spec, 0.0)
                name = self.limit_name(resource.replace("_", "-"))
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=decay)
                )

    def active_slots(self, resource: str) -> int:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(self.limit_name(resource)).active_slots

    def settings(
        self, flow: str = "rpa3", max_concurrent_tasks: int = 4, timeout_seconds: float = 60
    ) -> RunSettings:
        return RunSettings(
            flow=flow,
            stack=self.name,
            environment=ENVIRONMENT,
            max_concurrent_tasks=max_concurrent_tasks,
            timeout_seconds=timeout_seconds,
        )

    def flow_environment(self, erp_url: str, database_url: str | None = None) -> dict[str, str]:
        return {
            **os.environ,
            STACK_ENV_VAR: self.name,
            ENVIRONMENT_ENV_VAR: ENVIRONMENT,
            ERP_API_URL_ENV: erp_url,
            DATABASE_URL_ENV: database_url or self.database_url,
        }

    def start_flow_run(
        self, flow: str, erp_url: str, *args: str, database_url: str | None = None
    ) -> subprocess.Popen[str]:
        """`python -m flows.<flow> ARGS` against the test's Prefect server: one flow run, one process.
        The results database is the stack's SQLite file unless `database_url` says otherwise."""
        process = subprocess.Popen(
            [sys.executable, "-m", f"flows.{flow}", *args],
            env=self.flow_environment(erp_url, database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.flow_runs.append(process)
        return process

    def open_when_all_asking(
        self, runs: list[subprocess.Popen[str]], resource: str, limit: int, since: float
    ) -> None:
        """Flow runs started on a limit created at 0 are held until every one of them is asking (its first
        task started after `since`, time.time()); then the limit opens to `limit`. Process start-up on a busy
        machine, seconds apart, then does not decide which run works first or alone."""
        deadline = time.monotonic() + 300
        while len(task_runs_started("fetch_open_items", since)) < len(runs):
            fail_if_any_ended(runs, "before every run was asking")
            assert time.monotonic() < deadline, "not every run was asking within 300 s"
            time.sleep(0.5)
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(
                self.limit_name(resource), GlobalConcurrencyLimitUpdate(limit=limit)
            )

    def kill_flow_runs(self) -> None:
        for process in self.flow_runs:
            if process.poll() is None:
                process.kill()
                process.communicate()


def set_flow_variables(flow: str, max_concurrent_tasks: int, timeout_seconds: float) -> None:
    """The environment's Variables for a flow (shared by every stack of the environment, as in production)."""
    with get_client(sync_client=True) as client:
        for setting, value in (("max_concurrent_tasks", max_concurrent_tasks), ("timeout", timeout_seconds)):
            name = flow_variable_name(ENVIRONMENT, flow, setting)
            if client.read_variable_by_name(name) is None:
                client.create_variable(VariableCreate(name=name, value=value))
            else:
                client.update_variable(VariableUpdate(name=name, value=value))


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """Wait for a flow-run process; its exit code and everything it printed. One still running after
    `timeout` is killed, and the test fails with its output."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(
            f"flow run {process.args} did not finish within {timeout:g} s; it printed:\n{stdout}{stderr}"
        )
    return process.returncode, stdout + stderr


def fail_if_any_ended(processes: list[subprocess.Popen[str]], waiting_for: str) -> None:
    """While a test waits for something its flow runs should bring about: one that has ended already fails
    the test with its output."""
    for process in processes:
        if process.poll() is not None:
            code, output = finish(process)
            pytest.fail(f"flow run {process.args} ended (exit {code}) {waiting_for}; it printed:\n{output}")


def task_runs_started(task_name: str, since: float) -> list[TaskRun]:
    """Task runs of that name that started running after `since` (time.time()), as the server recorded them:
    task states reach it as events, a moment after the fact."""
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            task_run_filter=TaskRunFilter(
                name=TaskRunFilterName(like_=task_name),
                start_time=TaskRunFilterStartTime(after_=datetime.fromtimestamp(since, UTC)),
            )
        )


def flow_runs_since(flow_name: str, since: datetime) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
        )

"""A stack as the flows see it, made on the test's Prefect server: its limits, the environment's Variables,
and flow runs started as separate processes the way a worker starts them (one process per flow run).

Every wait here is a bound on a hang, never on speed: a flow run that outlives it is killed with its process
group, and the test fails with the tail of what every run of the wait printed."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

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
# Bounds on hangs, about ten times what the slowest wait takes on a quiet machine (a flow run of the suite: up
# to 60 s; all runs asking for their first slot: about 10 s), so that a loaded machine never reaches them.
FLOW_RUN_BOUND_SECONDS = 600
ASKING_BOUND_SECONDS = 300
OUTPUT_TAIL_LINES = 40


@dataclass
class FlowRunProcess:
    """One flow-run process, in a session of its own (so that killing it kills whatever it started), its
    output in a file rather than a pipe: a pipe nobody reads while the test waits on another run fills up and
    stalls the run that writes to it."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def args(self) -> object:
        return self.process.args

    def poll(self) -> int | None:
        return self.process.poll()

    def send_signal(self, signum: int) -> None:
        """To the flow-run process alone, as a worker stopping it does."""
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL to its whole process group (an OOM kill, a container killed), then reaped."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def describe(self) -> str:
        state = "still running" if self.poll() is None else f"exit {self.process.returncode}"
        return f"flow run {' '.join(map(str, self.process.args))} ({state}), last lines:\n{self.tail()}"


@dataclass(frozen=True)
class StackUnderTest:
    name: str
    database_path: Path
    flow_runs: list[FlowRunProcess] = field(default_factory=list)  # killed at the test's end if alive

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
    ) -> FlowRunProcess:
        """`python -m flows.<flow> ARGS` against the test's Prefect server: one flow run, one process.
        The results database is the stack's SQLite file unless `database_url` says otherwise."""
        log_path = self.database_path.parent / f"{self.name}-{flow}-{len(self.flow_runs)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", f"flows.{flow}", *args],
                env=self.flow_environment(erp_url, database_url),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        run = FlowRunProcess(process, log_path)
        self.flow_runs.append(run)
        return run

    def open_when_all_asking(
        self, runs: Sequence[FlowRunProcess], resource: str, limit: int, since: float
    ) -> None:
        """Flow runs started on a limit created at 0 are held until every one of them is asking (its first
        task started after `since`, time.time()); then the limit opens to `limit`. Process start-up on a busy
        machine, seconds apart, then does not decide which run works first or alone."""
        deadline = time.monotonic() + ASKING_BOUND_SECONDS
        while len(task_runs_started("fetch_open_items", since)) < len(runs):
            fail_if_any_ended(runs, "before every run was asking")
            if time.monotonic() > deadline:
                fail_killing(runs, f"not every run was asking within {ASKING_BOUND_SECONDS} s")
            time.sleep(0.5)
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(
                self.limit_name(resource), GlobalConcurrencyLimitUpdate(limit=limit)
            )

    def kill_flow_runs(self) -> None:
        for run in self.flow_runs:
            if run.poll() is None:
                run.kill()


def set_flow_variables(flow: str, max_concurrent_tasks: int, timeout_seconds: float) -> None:
    """The environment's Variables for a flow (shared by every stack of the environment, as in production)."""
    with get_client(sync_client=True) as client:
        for setting, value in (("max_concurrent_tasks", max_concurrent_tasks), ("timeout", timeout_seconds)):
            name = flow_variable_name(ENVIRONMENT, flow, setting)
            if client.read_variable_by_name(name) is None:
                client.create_variable(VariableCreate(name=name, value=value))
            else:
                client.update_variable(VariableUpdate(name=name, value=value))


def finish_all(
    runs: Sequence[FlowRunProcess], timeout: float = FLOW_RUN_BOUND_SECONDS
) -> list[tuple[int, str]]:
    """Wait for flow runs started together, under one deadline; each one's exit code and everything it
    printed. When one is still running at the deadline, every one still running is killed and the test
    fails with the tail of each run's output."""
    deadline = time.monotonic() + timeout
    for run in runs:
        try:
            run.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            fail_killing(runs, f"not every flow run finished within {timeout:g} s")
    return [(run.process.returncode, run.output()) for run in runs]


def finish(run: FlowRunProcess, timeout: float = FLOW_RUN_BOUND_SECONDS) -> tuple[int, str]:
    """`finish_all` of one run."""
    [outcome] = finish_all([run], timeout)
    return outcome


def fail_killing(runs: Sequence[FlowRunProcess], what: str) -> NoReturn:
    """Fail the test saying `what`, with the tail of each run's output, once every one still running is
    killed (with its process group: nothing a run started outlives the test)."""
    described = []
    for run in runs:
        alive = run.poll() is None
        run.kill()
        described.append(("killed: " if alive else "") + run.describe())
    pytest.fail(f"{what}\n\n" + "\n\n".join(described))


def fail_if_any_ended(runs: Sequence[FlowRunProcess], waiting_for: str) -> None:
    """While a test waits for something its flow runs should bring about: one that has ended already fails
    the test with its output (and the others' tails)."""
    for run in runs:
        if run.poll() is not None:
            fail_killing(runs, f"flow run {run.args} ended (exit {run.process.returncode}) {waiting_for}")


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

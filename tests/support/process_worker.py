"""Deployment runs without Docker: a process work pool on the test's Prefect server, a deployment of a flow
of this checkout into it (its runs start in this repository, as the runtime image's start in its copy), and a
real `prefect worker start --type process` polling that pool, stopped with every flow-run process it started."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import WorkerStatus
from prefect.utilities.callables import parameter_schema
from prefect.workers.process import ProcessWorker

from flows.rpa3.flow import rpa3
from flows.systems.endpoints import DATABASE_URL_ENV, ERP_API_URL_ENV
from rpa_naming import ENVIRONMENT_ENV_VAR, STACK_ENV_VAR
from tests.support.processes import descendants

REPOSITORY = Path(__file__).resolve().parents[2]
# The worker asks for runs every second (default 10 s) so that a test does not wait on its polling.
WORKER_SETTINGS = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}


def create_process_pool(name: str) -> None:
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template()
            )
        )


def deploy_from_checkout(
    flow: Flow[..., object], entrypoint: str, name: str, pool: str, env: dict[str, str]
) -> UUID:
    """`<flow name>/<name>` in `pool`, its runs started in this checkout with `env` (the job variable)."""
    with get_client(sync_client=True) as client:
        return client.create_deployment(
            flow_id=client.create_flow_from_name(flow.name),
            name=name,
            work_pool_name=pool,
            entrypoint=entrypoint,
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(REPOSITORY)}}],
            parameter_openapi_schema=parameter_schema(flow).model_dump_for_openapi(),
            job_variables={"env": env},
        )


def deploy_rpa3(stack: str, environment: str, database_url: str, erp_url: str | None = None) -> str:
    """`rpa3/<stack>`, named as prefect.yaml names each stack's deployment, in a process pool of its own (whose
    name this returns). Its runs find their stack in their env, as a pool's job template gives it, and write to
    `database_url`; they call `erp_url` when given, else what each run's job variables say."""
    pool = f"{stack}-process"
    create_process_pool(pool)
    run_env = {STACK_ENV_VAR: stack, ENVIRONMENT_ENV_VAR: environment, DATABASE_URL_ENV: database_url}
    if erp_url is not None:
        run_env[ERP_API_URL_ENV] = erp_url
    deploy_from_checkout(rpa3, "flows/rpa3/flow.py:rpa3", name=stack, pool=pool, env=run_env)
    return pool


@dataclass
class WorkerProcess:
    pool: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"worker log ({self.log_path}), last lines:\n" + "\n".join(text.splitlines()[-lines:])

    def wait_online(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while True:
                assert self.process.poll() is None, (
                    f"the worker exited {self.process.returncode}\n{self.log_tail()}"
                )
                workers = client.read_workers_for_work_pool(self.pool)
                if any(worker.status == WorkerStatus.ONLINE for worker in workers):
                    return
                assert time.monotonic() < deadline, (
                    f"no worker online within {timeout:g} s\n{self.log_tail()}"
                )
                time.sleep(0.5)

    def stop(self) -> None:
        """Its flow-run processes first, while their ids are surely theirs; then the worker and its group."""
        # From /proc: flow runs may sit in sessions of their own, out of the worker's process group.
        for pid in descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextmanager
def running_worker(pool: str, log_path: Path) -> Iterator[WorkerProcess]:
    """A process worker of `pool` against PREFECT_API_URL, online when this yields."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
            env={**os.environ, **WORKER_SETTINGS},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(pool=pool, log_path=log_path, process=process)
    try:
        worker.wait_online()
        yield worker
    finally:
        worker.stop()

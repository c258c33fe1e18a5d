"""Flow runs driven locally: `python -m flows.rpa3 --items M --batch B`, one process per flow run as a
process worker would start them, pointed at the load test's ERP, results database and Prefect API."""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from flows.systems.endpoints import DATABASE_URL_ENV, ERP_API_URL_ENV
from rpa_naming import ENVIRONMENT_ENV_VAR, STACK_ENV_VAR
from tools.loadtest.driver import NO_RUN, STARTING, Collected
from tools.loadtest.measure import reconciled_items
from tools.loadtest.plan import FLOW
from tools.loadtest.result import FlowRunOutcome
from tools.loadtest.target import Target

# A run asked to stop (SIGTERM) gives its slots back within seconds; one that does not is killed after this.
STOP_GRACE_SECONDS = 20


@dataclass
class LocalFlowRun:
    batch: str
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class LocalFlowRuns:
    target: Target
    erp_url: str
    work_dir: Path  # the runs' logs and the load's own results database
    runs: list[LocalFlowRun] = field(default_factory=list)

    @property
    def database_path(self) -> Path:
        return self.work_dir / "results.db"

    def start(self, batch: str, items: int) -> None:
        environment = {
            **os.environ,
            "PREFECT_API_URL": self.target.api_url,
            STACK_ENV_VAR: self.target.stack,
            ENVIRONMENT_ENV_VAR: self.target.environment,
            ERP_API_URL_ENV: self.erp_url,
            DATABASE_URL_ENV: f"sqlite:///{self.database_path}",
        }
        log_path = self.work_dir / f"{batch}.log"
        # Output to a file, not a pipe: a chatty run would block on a full pipe nobody reads during the load.
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", f"flows.{FLOW}", "--items", str(items), "--batch", batch],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.runs.append(LocalFlowRun(batch=batch, log_path=log_path, process=process))

    def batches(self) -> list[str]:
        return [run.batch for run in self.runs]

    def running(self) -> int:
        return sum(run.exit_code is None for run in self.runs)

    def unseen_state(self, batch: str) -> str:
        [run] = [run for run in self.runs if run.batch == batch]
        return STARTING if run.exit_code is None else NO_RUN

    def stop(self) -> None:
        """SIGTERM to every run still going (each releases its slots), then SIGKILL to any still there."""
        for run in self.runs:
            if run.process.poll() is None:
                run.process.terminate()
        for run in self.runs:
            try:
                run.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()

    def collect(self, final_state: Callable[[str], str | None], console: Console) -> Collected:
        for run in self.runs:
            if run.process.returncode != 0:
                console.print(
                    f"[red]flow run {run.batch} exited {run.process.returncode}[/red]; its last lines:"
                )
                console.print(run.log_tail(), markup=False, highlight=False)
        return Collected(
            reconciled=reconciled_items(self.database_path),
            counted_from="results database",
            outcomes=[
                FlowRunOutcome(
                    batch=run.batch, exit_code=run.process.returncode, final_state=final_state(run.batch)
                )
                for run in self.runs
            ],
        )

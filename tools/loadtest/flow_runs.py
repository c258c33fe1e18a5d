"""Flow runs driven locally: `python -m flows.rpa3 --items M --batch B`, one process per flow run as a
process worker would start them, pointed at the load test's ERP, results database and Prefect API."""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from flows.systems.endpoints import DATABASE_URL_ENV, ERP_API_URL_ENV
from rpa_naming import ENVIRONMENT_ENV_VAR, STACK_ENV_VAR
from tools.loadtest.plan import FLOW
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
    database_url: str
    work_dir: Path
    runs: list[LocalFlowRun] = field(default_factory=list)

    def start(self, batch: str, items: int) -> None:
        environment = {
            **os.environ,
            "PREFECT_API_URL": self.target.api_url,
            STACK_ENV_VAR: self.target.stack,
            ENVIRONMENT_ENV_VAR: self.target.environment,
            ERP_API_URL_ENV: self.erp_url,
            DATABASE_URL_ENV: self.database_url,
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

    def running(self) -> int:
        return sum(run.exit_code is None for run in self.runs)

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

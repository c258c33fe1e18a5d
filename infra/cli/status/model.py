"""What `python -m infra.cli.status` collected from one stack's Prefect API, and what it found wrong: plain
pydantic models, so that the tables and `--json` show the same facts."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue, computed_field


class StatusModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class PoolStatus(StatusModel):
    name: str
    type: str
    paused: bool
    concurrency_limit: int | None
    running: int
    pending: int
    cancelling: int

    @computed_field  # type: ignore[prop-decorator]  # mypy refuses any decorator over @property
    @property
    def active(self) -> int:
        """The runs Prefect counts against the pool's limit: Pending, Running and Cancelling."""
        return self.running + self.pending + self.cancelling


class QueueStatus(StatusModel):
    pool: str
    name: str
    priority: int
    concurrency_limit: int | None
    paused: bool
    late: int
    pending: int


class WorkerStatus(StatusModel):
    """A worker as Prefect 3.9.1's server records it: name, status and heartbeat. It keeps no version (a
    worker sends its metadata in heartbeats, and the open-source server drops it). A worker the stack file
    declares that the server has never seen in its pool is one too, not present."""

    pool: str
    name: str
    online: bool
    last_heartbeat: datetime | None
    declared: bool  # one of the stack file's worker containers; others were started by hand
    present: bool  # registered in the pool: it has sent a heartbeat there


class LimitStatus(StatusModel):
    name: str
    limit: int
    active: bool
    active_slots: int
    slot_decay_per_second: float
    declared: bool  # in the stack file; an undeclared one carries the stack's prefix only


class VariableStatus(StatusModel):
    name: str
    declared: JsonValue
    held: JsonValue = None
    present: bool


class DeploymentStatus(StatusModel):
    id: str
    name: str  # flow/deployment
    pool: str | None
    concurrency_limit: int | None
    active_slots: int | None


class RunStatus(StatusModel):
    id: str
    name: str
    deployment: str | None
    pool: str | None
    state: str  # the state type: RUNNING, COMPLETED ...
    state_name: str  # what the UI shows: Running, Late, Crashed ...
    state_since: datetime | None
    start_time: datetime | None
    duration_seconds: float


class ErrorRate(StatusModel):
    window_minutes: float
    finished: int
    failed: int
    crashed: int

    @computed_field  # type: ignore[prop-decorator]  # mypy refuses any decorator over @property
    @property
    def rate(self) -> float | None:
        return (self.failed + self.crashed) / self.finished if self.finished else None


class StackStatus(StatusModel):
    stack: str
    environment: str
    api_url: str
    collected_at: datetime
    stuck_after_seconds: float
    pools: list[PoolStatus]
    queues: list[QueueStatus]
    workers: list[WorkerStatus]
    limits: list[LimitStatus]
    variables: list[VariableStatus]
    deployments: list[DeploymentStatus]
    active_runs: list[RunStatus]
    """Runs of the stack's pools, or of no pool, in Pending, Running, Cancelling or Paused."""
    runs_ended_lately: int
    """Runs of the stack's pools, or of no pool, that ended within the lease quiet period (stuck.py)."""
    recent_runs: list[RunStatus]
    error_rate: ErrorRate


class Finding(StatusModel):
    kind: Literal["stuck", "drift", "offline"]
    object: str  # as the providers' errors name it: "global concurrency limit 'prod-erp-api'" ...
    message: str
    command: str | None = None  # the one command that fixes it, where there is one


class StackReport(StatusModel):
    status: StackStatus
    findings: list[Finding]

    @computed_field  # type: ignore[prop-decorator]  # mypy refuses any decorator over @property
    @property
    def ok(self) -> bool:
        return not self.findings


class StackError(StatusModel):
    """A stack whose status could not be read: its file is invalid, or its API does not answer."""

    stack: str
    error: str


class StatusOutput(StatusModel):
    """What `--json` prints: a report per stack read, an error per stack not read."""

    reports: list[StackReport]
    errors: list[StackError]

"""What a load test writes to loadtest-results/<stack>-<UTC timestamp>.json: one model per concept."""

from pydantic import BaseModel

from tools.demo_erp.timeline import ErpTimeline


class StackLimits(BaseModel):
    """The stack's objects as the server held them when the load started."""

    erp_api: int
    erp_api_rate: int  # the burst
    erp_api_rate_per_second: float
    db_write: int
    max_concurrent_tasks: int
    timeout_seconds: float


class LoadPlanRecord(BaseModel):
    flow: str
    mode: str  # "local": flow runs as processes of this machine; "deployments": through the stack's workers
    mode_reason: str  # why that mode, e.g. "local: no online worker in pool dev-rpa-docker of rpa3/dev"
    deployment: str | None  # `<flow>/<deployment>` in deployments mode
    work_pool: str | None
    flow_runs: int
    items_per_run: int
    erp_latency_seconds: float


class ItemCounts(BaseModel):
    planned: int
    reconciled: int  # items done: rows in the load's results database, or from the runs' metrics artifacts
    counted_from: str  # "results database" (local) or "metrics artifacts" (deployments)
    failed: int  # planned - reconciled: items failed, and items of runs that never got to them
    error_rate: float  # failed / planned


class ErpTraffic(BaseModel):
    arrivals: int
    accepted: int
    rejected_for_concurrency: int
    rejected_for_rate: int
    share_429: float  # 429s / arrivals
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None


class Throughput(BaseModel):
    # Over the ERP's busy span (first arrival to last completion): what the limits let through once runs go.
    items_per_second: float
    busy_seconds: float
    # Over the whole load, flow-run process start-up included.
    wall_seconds: float
    wall_items_per_second: float
    # Within the busy span, the time nothing was in flight at the ERP: runs starting, or waiting for a slot.
    erp_idle_seconds: float


class LimitObservation(BaseModel):
    """The most the ERP saw against what the stack's limit allows; `within` is the verdict."""

    limit: str
    kind: str  # "concurrency": calls in flight; "rate": arrivals in any 1 s window
    allowed: float
    allowance: str  # how `allowed` follows from the limit, for a reader: "limit 5", "burst 10 + 1 s at 10/s"
    highest_observed: float
    within: bool


class RunStateSample(BaseModel):
    seconds: float  # since the load started
    counts: dict[str, int]  # state name -> flow runs; "Starting": a process whose run the server has not yet


class FlowRunOutcome(BaseModel):
    batch: str
    exit_code: int | None  # the local process's; None for a deployment's run (a worker ran it)
    final_state: str | None  # as the server holds it; None when the run never reached the server
    flow_run_id: str | None = None  # deployments mode: the run created from the deployment
    # deployments mode: from the run's metrics artifact; None when it published none
    items_done: int | None = None
    items_failed: int | None = None


class Handover(BaseModel):
    """A flow run of the load that waited for its deployment's concurrency slot (AwaitingConcurrencySlot),
    timed from the end of the run whose slot it took (deployments mode)."""

    flow_run_id: str
    after_flow_run_id: str  # the run that ended last before this one took the slot
    waits: int  # times the server put it back to wait for the slot
    # How far ahead the server put it back, the last time: its setting
    # PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS (Prefect's default: 30).
    retry_after_seconds: float
    to_slot_seconds: float  # the previous run's end -> this run took the slot (Pending)
    to_start_seconds: float | None  # -> Running: the worker's poll, then its flow-run container's start
    to_first_call_seconds: float | None  # -> its first call at the ERP


class LoadResult(BaseModel):
    stack: str
    environment: str
    api_url: str
    started_at: str  # ISO 8601, UTC
    plan: LoadPlanRecord
    limits: StackLimits
    items: ItemCounts
    erp: ErpTraffic
    throughput: Throughput
    observed: list[LimitObservation]
    flow_runs: list[FlowRunOutcome]
    run_states: list[RunStateSample]
    timeline: ErpTimeline
    handovers: list[Handover] = []
    picture: str | None = None


class StepOutcome(BaseModel):
    value: int  # the width Variable and the erp-api limit during this step
    items_per_second: float
    gain: float | None  # over the previous step; None for the first
    error_rate: float
    share_429: float
    result_file: str


class StepUpResult(BaseModel):
    stack: str
    settings: list[str]  # the Variable and limit each step set
    steps: list[StepOutcome]
    # The step where throughput gained less than the threshold, or errors started; None if neither happened.
    knee: int | None
    knee_reason: str | None
    recommended: int | None  # the last value before the knee (the largest tried when there was none)
    restored: dict[str, float]  # what the settings were put back to

"""What one benchmark scenario measured: a row of the table and an entry of the JSON results."""

from dataclasses import dataclass


@dataclass
class Outcome:
    variant: str
    duration_s: float
    ideal_s: float
    time_s: float | None
    time_over_ideal: float | None
    finished_tasks: int
    capped: bool
    cap_s: float
    client_max_concurrency: int | None
    erp_max_concurrency: int
    limit: int | None  # rate scenarios limit the rate only
    run_finish_s: list[float]
    run_first_call_s: list[float]  # per run, its first call after the shared start
    runtime_server_calls_per_task: float | None
    rate_per_s: float | None = None
    rate_accuracy: float | None = None
    erp_max_calls_in_1s: int | None = None
    erp_rate_rejections: int | None = None
    database: str = "sqlite"  # the Prefect server's
    runs: int = 2
    handovers: dict[str, float] | None = None  # slots passing between runs (metrics.handovers)

"""`make bench` (`python -m tests.bench.run`): limiters side by side on one local Prefect server.

Every scenario runs two flow runs at once (separate processes, like two containers) that share one limit:
n = 200 tasks in all, each one call to the demo ERP taking d seconds, limit L = 10. Variants: no limiter (the
floor set by Prefect's task engine and HTTP, at width L/2 per run), Prefect's per-task `concurrency()`, a tag
limit, and this repository's runtime; then rate limits at R/s: Prefect's `rate_limit()` and the runtime's.
Prefect's own limiters are slow, so every run is capped; a capped run reports what it finished and a
projection. Every scenario runs on two servers in turn: Prefect's embedded default (SQLite) and a server on
PostgreSQL (a throwaway cluster from the machine's Debian package), so that what SQLite's locking costs each
limiter shows side by side. Writes bench-results/bench-<time>.json and prints the tables.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from rpa_naming import concurrency_limit_name
from tests.bench.guards import ERP, ERP_RATE, Variant
from tests.bench.metrics import handovers, highest_overlap, steady_rate
from tests.bench.outcome import Outcome
from tests.bench.processes import exit_on_sigterm, wait_all_or_stop
from tests.bench.table import render, render_databases
from tests.support.postgres import postgres_bin_dir
from tests.support.prefect_server import DATABASES, OFFLINE_ENV, PrefectServer, free_port, server_on
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.launcher import DemoErpProcess
from tools.demo_erp.stats import ErpStats

TASKS = 200
RUNS = 2
LIMIT = 10
RATE = 20.0  # calls per second...
RATE_BURST = 20  # ...with a bucket this big: the stack files' erp-api-rate shape (limit 20, decay 20/s)
DURATIONS = (0.05, 0.5)
STARTUP_SECONDS = 15.0  # processes import Prefect and create their flow runs before the shared start
CAP_SECONDS = 90.0


@dataclass(frozen=True)
class Scenario:
    variant: Variant
    duration: float
    runs: int = RUNS
    tasks: int = TASKS  # in all, shared alike by the runs
    limit: int = LIMIT
    width: int = LIMIT  # of each run's task runner; without a limiter the runs' widths add up to the limit
    repeat: int = 0  # a repeat of a scenario gets limits of its own, untouched by the runs before it

    @property
    def stack(self) -> str:
        shape = "" if (self.runs, self.limit) == (RUNS, LIMIT) else f"-{self.runs}x{self.limit}"
        repeat = f"-r{self.repeat}" if self.repeat else ""
        return f"bench-{self.variant.value}-{round(self.duration * 1000)}ms{shape}{repeat}"

    @property
    def run_width(self) -> int:
        return self.limit // self.runs if self.variant is Variant.UNLIMITED else self.width

    @property
    def ideal_seconds(self) -> float:
        if self.variant.is_rate:
            return (self.tasks - RATE_BURST) / RATE  # a full bucket first, then RATE per second
        return self.tasks * self.duration / self.limit


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--variants", type=Variant, nargs="+", default=list(Variant), help="default: all")
    parser.add_argument(
        "--durations", type=float, nargs="+", default=list(DURATIONS), help="seconds per call"
    )
    parser.add_argument("--databases", nargs="+", choices=DATABASES, default=list(DATABASES))
    args = parser.parse_args()
    if "postgresql" in args.databases and postgres_bin_dir() is None:
        parser.error("the postgresql column needs PostgreSQL's initdb (apt-get install postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="rpa-bench-"))
    erp = DemoErpProcess(port=free_port())
    print(f"work directory (server and flow-run logs): {workdir}", flush=True)
    scenarios = [
        Scenario(variant, duration)
        for duration in args.durations
        for variant in _CONCURRENCY_VARIANTS
        if variant in args.variants
    ]
    scenarios += [
        Scenario(variant, min(args.durations)) for variant in _RATE_VARIANTS if variant in args.variants
    ]
    admin = erp.start()
    outcomes: list[Outcome] = []
    try:
        for database in args.databases:
            with server_on(database, workdir / database) as server:
                print(f"\n{database}: Prefect server at {server.api_url}", flush=True)
                env = _flow_run_env(server)
                outcomes += _run_all(database, scenarios, server, admin, erp.url, env, workdir / database)
                if database == args.databases[0]:
                    cost = json.loads(_runtime_cost(client_url=server.api_url, env=env))
    finally:
        erp.stop()
    report = {"tasks": TASKS, "runs": RUNS, "limit": LIMIT, "rate": RATE, "rate_burst": RATE_BURST}
    report |= {"cap_s": CAP_SECONDS, "machine_cpus": os.cpu_count(), "databases": args.databases}
    report |= {"outcomes": [asdict(outcome) for outcome in outcomes], "runtime_cost": cost}
    results = Path("bench-results")
    results.mkdir(exist_ok=True)
    path = results / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    (results / "bench.json").write_text(path.read_text())  # the published copy (docs/benchmarks.md's figures)
    print()
    print(render(outcomes, header=True))
    if len(args.databases) > 1:
        print()
        print(render_databases(outcomes, args.databases))
    print(
        f"\nruntime cost per task with slots held: {cost['one_thread_us']:.1f} us (1 thread), "
        f"{cost['ten_threads_us']:.1f} us (10 threads contending; "
        f"{cost['ten_threads_takes_that_waited']} of their takes waited); server calls in those "
        f"{cost['rounds']} hand-outs: {cost['server_calls']}; a semaphore taken by the same threads: "
        f"{cost['semaphore_one_thread_us']:.1f} us and {cost['semaphore_ten_threads_us']:.1f} us "
        f"({cost['ten_threads_over_semaphore']:.2f}x)"
    )
    print(f"written to {path}")


def _flow_run_env(server: PrefectServer) -> dict[str, str]:
    return {
        **os.environ,
        **OFFLINE_ENV,
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(server.home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def _run_all(
    database: str,
    scenarios: list[Scenario],
    server: PrefectServer,
    admin: DemoErpAdmin,
    erp_url: str,
    env: dict[str, str],
    workdir: Path,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with SyncPrefectClient(server.api_url) as client:
        # A fresh server's first flow runs pay for creating its flows and caches: not the limiters' cost.
        warm_up = Scenario(Variant.UNLIMITED, 0.01)
        _create_limit(client, warm_up)
        _run(warm_up, admin, erp_url, env, workdir)
        for scenario in scenarios:
            _create_limit(client, scenario)
            outcomes.append(_run(scenario, admin, erp_url, env, workdir))
            outcomes[-1].database = database
            print(render([outcomes[-1]], header=len(outcomes) == 1), flush=True)
    return outcomes


_CONCURRENCY_VARIANTS = (
    Variant.UNLIMITED,
    Variant.RUNTIME,
    Variant.PREFECT_CONCURRENCY,
    Variant.PREFECT_TAGS,
)
_RATE_VARIANTS = (Variant.RUNTIME_RATE, Variant.PREFECT_RATE)


def _create_limit(client: SyncPrefectClient, scenario: Scenario) -> None:
    if scenario.variant is Variant.PREFECT_TAGS:
        client.create_concurrency_limit(
            tag=concurrency_limit_name(scenario.stack, ERP), concurrency_limit=scenario.limit
        )
    elif scenario.variant.is_rate:
        name = concurrency_limit_name(scenario.stack, ERP_RATE)
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=RATE_BURST, slot_decay_per_second=RATE)
        )
    else:
        name = concurrency_limit_name(scenario.stack, ERP)
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=scenario.limit))


def _run(
    scenario: Scenario, admin: DemoErpAdmin, erp_url: str, env: dict[str, str], workdir: Path
) -> Outcome:
    rate = scenario.variant.is_rate
    admin.configure(
        ErpBehaviour(
            latency_seconds=scenario.duration,
            rate_per_second=RATE if rate else None,
            rate_burst=RATE_BURST if rate else None,
        )
    )
    admin.reset()
    start_at = time.time() + STARTUP_SECONDS
    outputs = [workdir / f"{scenario.stack}-{run}.json" for run in range(scenario.runs)]
    log = (workdir / f"{scenario.stack}.log").open("w")  # capped runs die noisily: keep that out of the table
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.workload",
                f"--variant={scenario.variant.value}",
                f"--tasks={scenario.tasks // scenario.runs}",
                f"--width={scenario.run_width}",
                f"--stack={scenario.stack}",
                f"--erp-url={erp_url}",
                f"--start-at={start_at}",
                f"--out={output}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped with whatever it started
        )
        for output in outputs
    ]
    capped = not wait_all_or_stop(processes, start_at + CAP_SECONDS)
    log.close()
    stats = admin.stats()
    runs = [json.loads(output.read_text()) for output in outputs if output.exists()]
    intervals = [tuple(interval) for run in runs for interval in run["intervals"]]
    finished = len(intervals) if not capped else stats.accepted
    time_s = max(end for _, end in intervals) - start_at if not capped else None
    ideal = scenario.ideal_seconds
    calls = [run["runtime_api_calls"] for run in runs if run["runtime_api_calls"] is not None]
    outcome = Outcome(
        variant=scenario.variant.value,
        duration_s=scenario.duration,
        ideal_s=ideal,
        time_s=time_s,
        time_over_ideal=(time_s / ideal) if time_s else _projection(finished, scenario.tasks, ideal),
        finished_tasks=finished,
        capped=capped,
        cap_s=CAP_SECONDS,
        client_max_concurrency=highest_overlap(intervals) if intervals else None,
        erp_max_concurrency=stats.highest_concurrency,
        limit=None if rate else scenario.limit,
        run_finish_s=[round(max(end for _, end in run["intervals"]) - start_at, 2) for run in runs],
        run_first_call_s=[round(min(start for start, _ in run["intervals"]) - start_at, 2) for run in runs],
        runtime_server_calls_per_task=sum(calls) / scenario.tasks if calls and not capped else None,
        runs=scenario.runs,
        handovers=handovers([run["intervals"] for run in runs]) if scenario.runs > 1 and not capped else None,
    )
    if rate:
        measured = steady_rate(intervals, RATE_BURST) if not capped else _capped_rate(stats)
        outcome.rate_per_s = measured
        outcome.rate_accuracy = measured / RATE if measured else None
        outcome.erp_max_calls_in_1s = stats.highest_arrivals_per_second
        outcome.erp_rate_rejections = stats.rejected_for_rate
    return outcome


def _projection(finished: int, tasks: int, ideal: float) -> float | None:
    """A capped run's time over ideal if it had kept its pace (a lower bound: work was still queued)."""
    return (CAP_SECONDS * tasks / finished) / ideal if finished else None


def _capped_rate(stats: ErpStats) -> float | None:
    """Calls after the initial bucket, over the whole capped run: the pace it kept."""
    return (stats.accepted - RATE_BURST) / CAP_SECONDS if stats.accepted > RATE_BURST else None


def _runtime_cost(client_url: str, env: dict[str, str]) -> str:
    stack = "bench-cost"
    with SyncPrefectClient(client_url) as client:
        name = concurrency_limit_name(stack, ERP)
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=LIMIT))
    command = [sys.executable, "-m", "tests.bench.runtime_cost", stack]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout


if __name__ == "__main__":
    exit_on_sigterm()
    main()

"""`python -m tests.bench.adaptive`: fixed against adaptive concurrency limits while the ERP's capacity changes.

The demo ERP's capacity is `--high` (10), drops to `--low` (4) and recovers (`--phases 20 20 20` seconds; a
schedule the ERP applies itself). Beyond its capacity it answers 429 + Retry-After (`--mode 429`) or makes
requests wait in line (`--mode queue`). Limiters, one after the other, each on a stack and global limit of its
own: fixed `high` (global limit high), fixed `low` (global limit low) and adaptive (global limit high, each
run's target adapting, floor `--floor`). Each runs `--runs` flow-run processes (ThreadPoolTaskRunner of width
`--width`, each task one guarded ERP call) that keep calling through the whole schedule.

One Prefect server of its own (`--database sqlite|postgresql`) and one demo ERP, on 127.0.0.1 and free ports.
Measured at the ERP and in the runs: goodput (accepted calls per second) per phase and overall, 429s, p95
latency as the flow sees a call and at the ERP, time to adapt, and the most calls in flight at the ERP, which
must never exceed the limiter's global limit (exit 1 otherwise). Writes bench-results/adaptive-<time>.json and
.png, copied to bench-results/adaptive.json and .png (adaptive-queue* for `--mode queue`), and prints a table.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from local_prefect_server.server_settings import OFFLINE as OFFLINE_ENV
from rpa_naming import concurrency_limit_name
from tests.bench.adaptive_measure import LimiterNumbers, measure
from tests.bench.adaptive_picture import draw
from tests.bench.adaptive_scenario import ERP, LIMITER_KINDS, CapacityMode, Limiter, Scenario
from tests.bench.adaptive_table import render
from tests.bench.adaptive_workload import adaptive_available
from tests.bench.processes import exit_on_sigterm, stop
from tests.support.ports import free_port
from tests.support.prefect_server import DATABASES, server_on
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.launcher import DemoErpProcess

# The processes import Prefect and create their flow runs (5-30 s on 2 busy cores), then say they are ready.
READY_BOUND_SECONDS = 600.0
# From "all ready" to the shared start: every run sees the go file and wakes in time.
GO_LEAD_SECONDS = 2.0
# After the schedule's end: the last calls finish (a 429'd one waits out its Retry-After), the runs exit.
FINISH_BOUND_SECONDS = 90.0
WARM_UP_SECONDS = 3.0
LOAD_SAMPLE_SECONDS = 2.0


def main() -> None:
    args = _arguments()
    scenario = Scenario(
        high=args.high,
        low=args.low,
        phase_seconds=(args.phases[0], args.phases[1], args.phases[2]),  # nargs=3
        latency_seconds=args.latency,
        mode=args.mode,
    )
    limiters = [limiter for kind, limiter in scenario.limiters(args.floor).items() if kind in args.limiters]
    skipped = []
    if any(limiter.adaptive_floor is not None for limiter in limiters) and not adaptive_available():
        skipped = [limiter.name for limiter in limiters if limiter.adaptive_floor is not None]
        limiters = [limiter for limiter in limiters if limiter.adaptive_floor is None]
        print(f"skipped {skipped}: this runtime has no adaptive limits yet (RunSettings.adaptive_floors)")
    workdir = Path(tempfile.mkdtemp(prefix="rpa-bench-adaptive-"))
    print(f"work directory (server, ERP and flow-run logs): {workdir}", flush=True)
    results: list[LimiterNumbers] = []
    erp = DemoErpProcess(
        port=free_port(), latency_seconds=scenario.latency_seconds, log_path=workdir / "erp.log"
    )
    with server_on(args.database, workdir / "server") as server:
        env = {
            **os.environ,
            **OFFLINE_ENV,
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(server.home),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            # A loaded SQLite server answers 503 ("database is locked") for seconds at a time; the client's
            # default 5 retries let a flow run die before its first task (seen at a load of 8 on 2 cores).
            "PREFECT_CLIENT_MAX_RETRIES": "20",
        }
        with SyncPrefectClient(server.api_url) as client:
            for limiter in limiters:
                name = concurrency_limit_name(limiter.stack, ERP)
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limiter.global_limit)
                )
        admin = erp.start()
        try:
            # A fresh server's first flow runs pay for creating the flow and its caches: not a limiter's cost.
            admin.configure(scenario.behaviour(scenario.high))

            def warm_up() -> tuple[float, float]:
                start_at = time.time() + GO_LEAD_SECONDS
                return start_at, start_at + WARM_UP_SECONDS

            _flow_runs(limiters[0], args, erp.url, env, workdir / "warm-up", warm_up, [])
            for limiter in limiters:
                results.append(_run(limiter, scenario, args, admin, erp.url, env, workdir / limiter.name))
                print(render(results[-1:], header=len(results) == 1), flush=True)
        finally:
            admin.close()
            erp.stop()
    _report(scenario, args, results, skipped)
    if not all(result.within_global_limit for result in results):
        print("FAILED: the ERP saw more calls in flight than the global limit allows", file=sys.stderr)
        sys.exit(1)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.adaptive",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--phases", type=float, nargs=3, default=[20.0, 20.0, 20.0], metavar="SECONDS")
    parser.add_argument("--high", type=int, default=10, help="the ERP's capacity before and after the drop")
    parser.add_argument("--low", type=int, default=4, help="the ERP's capacity during the drop")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per ERP call")
    parser.add_argument("--mode", type=CapacityMode, default=CapacityMode.REFUSE, help="429 or queue")
    parser.add_argument("--runs", type=int, default=2, help="flow-run processes per limiter")
    parser.add_argument("--width", type=int, default=10, help="task runner width of each run")
    parser.add_argument(
        "--database", choices=DATABASES, default="sqlite", help="the Prefect server's database"
    )
    parser.add_argument("--floor", type=int, default=1, help="the adaptive limit's floor")
    parser.add_argument(
        "--limiters", nargs="+", choices=LIMITER_KINDS, default=list(LIMITER_KINDS), help="default: all three"
    )
    return parser.parse_args()


def _run(
    limiter: Limiter,
    scenario: Scenario,
    args: argparse.Namespace,
    admin: DemoErpAdmin,
    erp_url: str,
    env: dict[str, str],
    workdir: Path,
) -> LimiterNumbers:
    admin.configure(scenario.behaviour(scenario.high))
    admin.reset()
    loads: list[float] = []
    starts: list[float] = []

    def go() -> tuple[float, float]:
        start_at = _on_bucket_grid(time.time() + GO_LEAD_SECONDS, admin)
        admin.schedule(scenario.schedule(start_at))
        starts.append(start_at)
        return start_at, start_at + scenario.total_seconds

    runs = _flow_runs(limiter, args, erp_url, env, workdir, go, loads)
    start_at = starts[0]
    spans = [(start_at + p.start_s, start_at + p.end_s) for p in scenario.phases]
    spans.append((start_at, start_at + scenario.total_seconds))
    return measure(
        limiter,
        scenario,
        start_at,
        admin.timeline(),
        [admin.latencies(since, until) for since, until in spans],
        admin.stats().highest_concurrency,
        runs,
        loads,
    )


def _on_bucket_grid(moment: float, admin: DemoErpAdmin) -> float:
    """The next start of one of the ERP timeline's intervals: phases of whole intervals then hold whole
    intervals, and nothing counted under one capacity is put in the phase of another."""
    bucket = admin.timeline().bucket_seconds
    return math.ceil(moment / bucket) * bucket


def _flow_runs(
    limiter: Limiter,
    args: argparse.Namespace,
    erp_url: str,
    env: dict[str, str],
    workdir: Path,
    go: Callable[[], tuple[float, float]],
    loads: list[float],
) -> list[dict[str, Any]]:
    """`args.runs` flow-run processes; once all are ready, `go()` sets the shared (start, end) they call in.
    What each wrote; the machine's 1-minute load average is appended to `loads` every few seconds meanwhile."""
    workdir.mkdir(parents=True, exist_ok=True)
    outputs = [workdir / f"run-{index}.json" for index in range(args.runs)]
    ready_files = [workdir / f"run-{index}.ready" for index in range(args.runs)]
    go_file = workdir / "go.json"
    floor = [] if limiter.adaptive_floor is None else [f"--adaptive-floor={limiter.adaptive_floor}"]
    with (workdir / "runs.log").open("w") as log:
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.bench.adaptive_workload",
                    f"--stack={limiter.stack}",
                    f"--erp-url={erp_url}",
                    f"--width={args.width}",
                    f"--ready-file={ready}",
                    f"--go-file={go_file}",
                    f"--caller={limiter.name}-{index}",
                    f"--out={output}",
                    *floor,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for index, (output, ready) in enumerate(zip(outputs, ready_files, strict=True))
        ]
        try:
            ready_by = time.monotonic() + READY_BOUND_SECONDS
            while not all(ready.exists() for ready in ready_files):
                if any(p.poll() is not None for p in processes) or time.monotonic() > ready_by:
                    raise RuntimeError(f"{limiter.name}: a run never got ready; see {workdir / 'runs.log'}")
                time.sleep(0.1)
            start_at, end_at = go()
            temporary = go_file.with_suffix(".tmp")
            temporary.write_text(json.dumps({"start_at": start_at, "end_at": end_at}))
            temporary.rename(go_file)  # whole or not at all: the runs poll for it
            # Polled rather than waited on: the machine's load is sampled meanwhile (it shares 2 cores).
            while any(p.poll() is None for p in processes) and time.time() < end_at + FINISH_BOUND_SECONDS:
                loads.append(_one_minute_load())
                time.sleep(LOAD_SAMPLE_SECONDS)
        finally:
            stop(processes)
    missing = [output.name for output in outputs if not output.exists()]
    if missing:
        raise RuntimeError(f"{limiter.name}: runs wrote no result ({missing}); see {workdir / 'runs.log'}")
    return [json.loads(output.read_text()) for output in outputs]


def _one_minute_load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _report(
    scenario: Scenario, args: argparse.Namespace, results: list[LimiterNumbers], skipped: list[str]
) -> None:
    folder = Path("bench-results")
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # The queueing scenario keeps results of its own: its latest copy must not replace the 429 one's.
    name = "adaptive" if scenario.mode is CapacityMode.REFUSE else "adaptive-queue"
    json_path, png_path = folder / f"{name}-{stamp}.json", folder / f"{name}-{stamp}.png"
    report = {
        "scenario": {
            "high": scenario.high,
            "low": scenario.low,
            "phase_seconds": list(scenario.phase_seconds),
            "latency_s": scenario.latency_seconds,
            "mode": scenario.mode.value,
            "runs_per_limiter": args.runs,
            "width": args.width,
            "adaptive_floor": args.floor,
            "prefect_database": args.database,
        },
        "machine_cpus": os.cpu_count(),
        "skipped": skipped,
        "limiters": [asdict(result) for result in results],
    }
    json_path.write_text(json.dumps(report, indent=1))
    title = (
        f"python -m tests.bench.adaptive: ERP capacity {scenario.high} -> {scenario.low} -> {scenario.high} "
        f"({'/'.join(f'{s:g}' for s in scenario.phase_seconds)} s, mode {scenario.mode.value}), "
        f"{args.runs} runs x width {args.width}, {scenario.latency_seconds * 1000:g} ms per call, {args.database}"
    )
    if results:
        draw(results, scenario.total_seconds, title, png_path)
        shutil.copyfile(png_path, folder / f"{name}.png")
    shutil.copyfile(json_path, folder / f"{name}.json")
    print()
    print(render(results, header=True))
    print(f"\nwritten to {json_path} and {png_path} (copies: {folder / name}.json and .png)")


if __name__ == "__main__":
    exit_on_sigterm()
    main()

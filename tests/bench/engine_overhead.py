"""`python -m tests.bench.engine_overhead`: what Prefect's task engine costs per task, and what a flow can do
about it, side by side on one local Prefect server.

Every variant runs two flow runs at once (separate processes, like two containers) that share one global limit
of L = 10: n items in all (default 1000), each one call to the demo ERP taking d = 50 ms, so the ideal time is
n * d / L. Variants: no limiter (Prefect's per-task floor), Prefect's `concurrency()` per task, this
repository's runtime with a task per item (today's flows), the same with Prefect's default INFO task-run logs,
async tasks, and a task per chunk of items whose calls run on a plain thread pool, each guarded by the runtime.
Between variants the server is left to finish the previous one's events, and what it spent is measured (its
process's CPU time until it is idle again). Writes bench-results/engine-overhead-<time>.json and a copy
bench-results/engine-overhead.json, and prints a table.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from local_prefect_server.server_settings import OFFLINE as OFFLINE_ENV
from rpa_naming import concurrency_limit_name
from tests.bench.engine_workload import Shape
from tests.bench.guards import ERP
from tests.bench.metrics import highest_overlap
from tests.bench.processes import exit_on_sigterm, wait_all_or_stop
from tests.support.ports import free_port
from tests.support.prefect_server import PrefectServer
from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.launcher import DemoErpProcess

RUNS = 2
STARTUP_SECONDS = 15.0  # processes import Prefect and create their flow runs before the shared start
IDLE_CPU_SHARE = 0.1  # the server is idle once it uses less than this share of a core...
IDLE_WINDOW_SECONDS = 2.0  # ...over this long
IDLE_BOUND_SECONDS = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Variant:
    name: str
    shape: Shape
    env: dict[str, str] = field(default_factory=dict)
    what: str = ""


VARIANTS = (
    Variant("unlimited", Shape.UNLIMITED, what="task per item, no limiter (width L/2 per run)"),
    Variant("prefect-concurrency", Shape.PREFECT_CONCURRENCY, what="task per item, concurrency() in each"),
    Variant("runtime-items", Shape.RUNTIME_ITEMS, what="task per item, runtime guards each call (today)"),
    Variant(
        "runtime-items-info-logs",
        Shape.RUNTIME_ITEMS,
        {"PREFECT_LOGGING_LEVEL": "INFO"},
        "as runtime-items, Prefect's default INFO logs (one per task run to the API)",
    ),
    Variant("unlimited-async", Shape.UNLIMITED_ASYNC, what="async task per item, no limiter"),
    Variant("runtime-items-async", Shape.RUNTIME_ITEMS_ASYNC, what="async task per item, runtime per call"),
    Variant("unlimited-chunks", Shape.UNLIMITED_CHUNKS, what="task per chunk, plain thread pool, no limiter"),
    Variant("runtime-chunks", Shape.RUNTIME_CHUNKS, what="task per chunk, runtime guards each call"),
    Variant(
        "runtime-chunks-fast-handover",
        Shape.RUNTIME_CHUNKS_FAST_HANDOVER,
        what="as runtime-chunks, freed slots found and taken within ~0.1 s (bench SlotPolicy)",
    ),
    Variant(
        "runtime-chunks-long-tenure",
        Shape.RUNTIME_CHUNKS_LONG_TENURE,
        what="as runtime-chunks-fast-handover, slots go round the runs every 10 s instead of 2 s",
    ),
)
_BY_NAME = {variant.name: variant for variant in VARIANTS}


@dataclass(frozen=True)
class Config:
    items: int
    latency_s: float
    limit: int
    chunk_size: int
    cap_s: float

    @property
    def ideal_s(self) -> float:
        return self.items * self.latency_s / self.limit

    def width(self, shape: Shape) -> int:
        # Without a limiter the width is the only bound: L/2 per run keeps the total at L.
        return self.limit if shape.limited else self.limit // RUNS


@dataclass
class Outcome:
    variant: str
    what: str
    items: int
    task_runs: int | None
    ideal_s: float
    time_s: float | None
    time_over_ideal: float | None
    finished_items: int
    failed_items: int
    capped: bool
    cap_s: float
    erp_max_concurrency: int
    erp_mean_concurrency: float  # calls in flight on average, first arrival to last answer: L at best
    erp_latency_ms: float | None  # per call as the ERP served it
    runtime_attempt_ms: float | None  # per call from send to answer as the runtime saw it, slot held
    client_max_concurrency: int | None
    limit: int | None
    run_finish_s: list[float]
    flow_cpu_ms_per_item: float | None  # both flow-run processes, over the measured span
    server_cpu_ms_per_item: float | None  # the server, from the start until it is idle again
    server_settle_s: float  # how long after the runs the server still worked on their events
    loadavg_before: str
    loadavg_after: str


@dataclass(frozen=True)
class Bench:
    config: Config
    server: PrefectServer
    admin: DemoErpAdmin
    erp_url: str
    env: dict[str, str]
    workdir: Path


def main() -> None:
    args = _parser().parse_args()
    config = Config(args.items, args.latency, args.limit, args.chunk_size, args.cap)
    variants = [_BY_NAME[name] for name in args.variants]
    workdir = Path(tempfile.mkdtemp(prefix="rpa-engine-bench-"))
    print(f"work directory (server and flow-run logs): {workdir}", flush=True)
    server = PrefectServer(home=workdir / "prefect-home", port=free_port(), log_path=workdir / "server.log")
    erp = DemoErpProcess(port=free_port(), log_path=workdir / "erp.log")
    server.start()
    try:
        bench = Bench(config, server, erp.start(), erp.url, _flow_env(server), workdir)
        started_load = _loadavg()
        outcomes = _run_all(bench, variants)
    finally:
        erp.stop()
        server.stop()
    _report(config, outcomes, started_load)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.engine_overhead", description=__doc__)
    parser.add_argument("--items", type=int, default=1000, help="items in all, over the two runs")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per ERP call")
    parser.add_argument("--limit", type=int, default=10, help="the shared global limit")
    parser.add_argument("--chunk-size", type=int, default=50, help="items per task in the chunk variants")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds before a variant is stopped")
    parser.add_argument(
        "--variants", nargs="+", choices=list(_BY_NAME), default=list(_BY_NAME), help="default: all"
    )
    return parser


def _flow_env(server: PrefectServer) -> dict[str, str]:
    return {
        **os.environ,
        **OFFLINE_ENV,
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(server.home),
        "PREFECT_LOGGING_LEVEL": "WARNING",  # as `make bench`; a variant may set its own
    }


def _run_all(bench: Bench, variants: list[Variant]) -> list[Outcome]:
    # A fresh server's first flow runs pay for creating its flows and caches: not the engine's cost.
    warm_up = Config(40, 0.01, bench.config.limit, 10, bench.config.cap_s)
    with SyncPrefectClient(bench.server.api_url) as client:
        for shape in (Shape.UNLIMITED, Shape.UNLIMITED_ASYNC, Shape.UNLIMITED_CHUNKS):
            _create_limit(client, f"warm-{shape.value}", warm_up.limit)
            _run(replace(bench, config=warm_up), Variant(f"warm-{shape.value}", shape))
        outcomes = []
        for variant in variants:
            _create_limit(client, _stack(variant), bench.config.limit)
            outcomes.append(_run(bench, variant))
            print(_render([outcomes[-1]], header=len(outcomes) == 1), flush=True)
    return outcomes


def _stack(variant: Variant) -> str:
    return f"engine-{variant.name}"


def _create_limit(client: SyncPrefectClient, stack: str, limit: int) -> None:
    name = concurrency_limit_name(stack, ERP)
    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))


def _run(bench: Bench, variant: Variant) -> Outcome:
    config = bench.config
    server_pid = _server_pid(bench.server)
    _wait_idle(server_pid)
    bench.admin.configure(ErpBehaviour(latency_seconds=config.latency_s))
    bench.admin.reset()
    loadavg_before = _loadavg()
    server_cpu_before = _cpu_seconds(server_pid)
    start_at = time.time() + STARTUP_SECONDS
    outputs = [bench.workdir / f"{variant.name}-{run}.json" for run in range(RUNS)]
    processes = _start_runs(bench, variant, start_at, outputs)
    capped = not wait_all_or_stop(processes, start_at + config.cap_s)
    loadavg_after = _loadavg()
    settle_started = time.monotonic()
    _wait_idle(server_pid)
    server_cpu = _cpu_seconds(server_pid) - server_cpu_before
    stats = bench.admin.stats()
    runs = [json.loads(output.read_text()) for output in outputs if output.exists()]
    intervals = [tuple(interval) for run in runs for interval in run["intervals"]]
    finished = len(intervals) if not capped else stats.accepted
    time_s = max(end for _, end in intervals) - start_at if intervals and not capped else None
    return Outcome(
        variant=variant.name,
        what=variant.what,
        items=config.items,
        task_runs=sum(run["task_runs"] for run in runs) if not capped else None,
        ideal_s=config.ideal_s,
        time_s=time_s,
        time_over_ideal=time_s / config.ideal_s if time_s else _projection(config, finished),
        finished_items=finished,
        failed_items=sum(run["failed"] for run in runs),
        capped=capped,
        cap_s=config.cap_s,
        erp_max_concurrency=stats.highest_concurrency,
        erp_mean_concurrency=round(stats.mean_concurrency(), 2),
        erp_latency_ms=round(1000 * stats.request_seconds / stats.accepted, 1) if stats.accepted else None,
        runtime_attempt_ms=_mean([run["attempt_ms_mean"] for run in runs if run["attempt_ms_mean"]]),
        client_max_concurrency=highest_overlap(intervals)
        if intervals and not variant.shape.uses_runtime
        else None,
        limit=config.limit if variant.shape.limited else None,
        run_finish_s=[round(max(end for _, end in run["intervals"]) - start_at, 2) for run in runs],
        flow_cpu_ms_per_item=1000 * sum(run["cpu_s"] for run in runs) / config.items if not capped else None,
        server_cpu_ms_per_item=1000 * server_cpu / finished if finished else None,
        server_settle_s=round(time.monotonic() - settle_started, 1),
        loadavg_before=loadavg_before,
        loadavg_after=loadavg_after,
    )


def _start_runs(
    bench: Bench, variant: Variant, start_at: float, outputs: list[Path]
) -> list[subprocess.Popen[bytes]]:
    config = bench.config
    log = (bench.workdir / f"{variant.name}.log").open(
        "w"
    )  # capped runs die noisily: keep that out of the table
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.engine_workload",
                f"--shape={variant.shape.value}",
                f"--items={config.items // RUNS}",
                f"--width={config.width(variant.shape)}",
                f"--chunk-size={config.chunk_size}",
                f"--stack={_stack(variant)}",
                f"--erp-url={bench.erp_url}",
                f"--start-at={start_at}",
                f"--out={output}",
            ],
            env={**bench.env, **variant.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for output in outputs
    ]
    log.close()  # the children keep their own descriptors
    return processes


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _projection(config: Config, finished: int) -> float | None:
    """A capped run's time over ideal had it kept its pace (a lower bound: work was still queued)."""
    return (config.cap_s * config.items / finished) / config.ideal_s if finished else None


def _server_pid(server: PrefectServer) -> int:
    assert server.process is not None
    return server.process.pid


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (and of its children it has waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLK_TCK


def _wait_idle(pid: int) -> None:
    """Until the server has finished the events it was sent: what it still does would slow the next variant."""
    deadline = time.monotonic() + IDLE_BOUND_SECONDS
    while time.monotonic() < deadline:
        before = _cpu_seconds(pid)
        time.sleep(IDLE_WINDOW_SECONDS)
        if _cpu_seconds(pid) - before < IDLE_CPU_SHARE * IDLE_WINDOW_SECONDS:
            return


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def _report(config: Config, outcomes: list[Outcome], started_load: str) -> None:
    report: dict[str, Any] = {
        "items": config.items,
        "runs": RUNS,
        "limit": config.limit,
        "latency_s": config.latency_s,
        "chunk_size": config.chunk_size,
        "cap_s": config.cap_s,
        "machine_cpus": os.cpu_count(),
        "loadavg_at_start": started_load,
        "loadavg_at_end": _loadavg(),
        "outcomes": [asdict(outcome) for outcome in outcomes],
    }
    results = Path("bench-results")
    results.mkdir(exist_ok=True)
    path = results / f"engine-overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    shutil.copyfile(path, results / "engine-overhead.json")
    print()
    print(_render(outcomes, header=True))
    print(f"\nload average at start: {started_load}; at end: {report['loadavg_at_end']}")
    print(f"written to {path} (and {results / 'engine-overhead.json'})")


_HEADER = (
    f"{'variant':<27} {'tasks':>5} {'ideal s':>7} {'time s':>7} {'x ideal':>7} {'done/failed':>11} "
    f"{'ERP conc max/mean':>20} {'runs end s':>11} {'flow ms/item':>12} {'server ms/item':>14}"
)


def _render(rows: list[Outcome], *, header: bool) -> str:
    lines = [_HEADER, "-" * len(_HEADER)] if header else []
    for row in rows:
        time_s = f"{row.time_s:.2f}" if row.time_s is not None else f">{row.cap_s:.0f}"
        over = "-" if row.time_over_ideal is None else f"{row.time_over_ideal:.2f}"
        over = f"~{over}" if row.capped else over
        limit = f"(L={row.limit})" if row.limit is not None else "(no L)"
        concurrency = f"{row.erp_max_concurrency}/{row.erp_mean_concurrency:.1f} {limit}"
        finishes = "/".join(f"{end:.1f}" for end in row.run_finish_s) or "-"
        lines.append(
            f"{row.variant:<27} {_text(row.task_runs):>5} {row.ideal_s:>7.2f} {time_s:>7} {over:>7} "
            f"{f'{row.finished_items}/{row.failed_items}':>11} {concurrency:>20} {finishes:>11} "
            f"{_number(row.flow_cpu_ms_per_item):>12} {_number(row.server_cpu_ms_per_item):>14}"
        )
    return "\n".join(lines)


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    exit_on_sigterm()
    main()

"""One benchmark flow run: `tasks` Prefect tasks, each one ERP call of the ERP's latency under the variant's
guard, started at a shared wall-clock instant so that concurrent flow runs really overlap. Writes the
guarded intervals (and the runtime's server calls) to `--out` as JSON.

`python -m tests.bench.workload --variant runtime --tasks 100 --width 10 --stack S --erp-url U --start-at T --out F`
"""

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import FlowRuntime, RunSettings
from rpa_naming import concurrency_limit_name
from tests.bench.guards import ERP, ERP_RATE, Variant, guard


@dataclass(frozen=True)
class Setup:
    variant: Variant
    limit_name: str
    http: httpx.Client
    runtime: FlowRuntime | None


_setup: ContextVar[Setup] = ContextVar("bench_setup")


@task(cache_policy=NO_CACHE)
def call_erp(index: int) -> tuple[float, float]:
    setup = _setup.get()
    with guard(setup.variant, setup.limit_name, setup.runtime):
        started = time.time()
        body = {"item_id": f"bench-{index}", "amount_cents": index}
        setup.http.post("/api/reconciliations", json=body).raise_for_status()
        return started, time.time()


@contextmanager
def _opened_runtime(variant: Variant, stack: str, width: int) -> Iterator[FlowRuntime | None]:
    if variant not in (Variant.RUNTIME, Variant.RUNTIME_RATE):
        yield None
        return
    settings = RunSettings(
        flow="bench", stack=stack, environment="development", max_concurrent_tasks=width, timeout_seconds=3600
    )
    rates = [ERP_RATE] if variant is Variant.RUNTIME_RATE else []
    with FlowRuntime.open(settings, concurrency=[ERP] if not rates else [], rates=rates) as runtime:
        if not rates:
            runtime.slots(ERP).warm(width, wait=True)  # as `FlowRuntime.http_service` does for the flows
        yield runtime


@flow(name="bench-workload")
def bench_workload(
    variant: Variant, tasks: int, width: int, stack: str, erp_url: str, start_at: float
) -> dict:
    resource = ERP_RATE if variant.is_rate else ERP
    limit_name = concurrency_limit_name(stack, resource)
    tagged = call_erp.with_options(tags=[limit_name]) if variant is Variant.PREFECT_TAGS else call_erp
    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    time.sleep(max(0.0, start_at - time.time()))  # the runtime opens inside the measured time
    with (
        httpx.Client(base_url=erp_url, limits=limits, timeout=600) as http,
        _opened_runtime(variant, stack, width) as runtime,
    ):
        token = _setup.set(Setup(variant, limit_name, http, runtime))
        try:
            intervals = [future.result() for future in tagged.map(range(tasks))]
        finally:
            _setup.reset(token)
        api_calls = runtime.api.calls if runtime is not None else None
    return {"intervals": intervals, "runtime_api_calls": api_calls}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", type=Variant, required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--erp-url", required=True)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runner = ThreadPoolTaskRunner(max_workers=args.width)
    result = bench_workload.with_options(task_runner=runner)(
        args.variant, args.tasks, args.width, args.stack, args.erp_url, args.start_at
    )
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()

"""One flow run of the engine-overhead benchmark: `items` ERP calls in the shape under test, started at a shared
wall-clock instant so that concurrent flow runs really overlap. Writes each call's interval, the failures,
the Prefect task runs it made and the process's CPU time over the measured span to `--out` as JSON.

`python -m tests.bench.engine_workload --shape runtime-chunks --items 500 --width 10 --chunk-size 50
 --stack S --erp-url U --start-at T --out F`
"""

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import FlowRuntime, GuardedHttpService, RunMetrics, RunSettings
from flows.runtime.flow_runtime import DEFAULT_SLOT_POLICY
from flows.runtime.item_chunks import ItemOutcome, ItemPool, chunked, publish_outcomes
from rpa_naming import concurrency_limit_name
from tests.bench.engine_runtime import FAST_HANDOVER, FAST_HANDOVER_LONG_TENURE
from tests.bench.guards import ERP

PATH = "/api/reconciliations"
CHUNKS_IN_FLIGHT = 2  # the next chunk's items are queued while the last of the current one finish
Interval = tuple[float, float]


class Shape(StrEnum):
    UNLIMITED = "unlimited"  # a task per item, no limiter: Prefect's per-task floor
    PREFECT_CONCURRENCY = "prefect-concurrency"  # a task per item, prefect's concurrency() in each
    RUNTIME_ITEMS = "runtime-items"  # a task per item through the runtime's GuardedHttpService: today's flows
    UNLIMITED_ASYNC = "unlimited-async"  # an async task per item on the flow's event loop, no limiter
    RUNTIME_ITEMS_ASYNC = "runtime-items-async"  # an async task per item, its call through the runtime
    UNLIMITED_CHUNKS = "unlimited-chunks"  # a task per chunk, its items on a plain thread pool, no limiter
    RUNTIME_CHUNKS = "runtime-chunks"  # a task per chunk, each item's call through the runtime
    RUNTIME_CHUNKS_FAST_HANDOVER = "runtime-chunks-fast-handover"  # freed slots are taken sooner
    RUNTIME_CHUNKS_LONG_TENURE = "runtime-chunks-long-tenure"  # and slots go round the runs less often

    @property
    def limited(self) -> bool:
        return not self.value.startswith("unlimited")

    @property
    def uses_runtime(self) -> bool:
        return self.value.startswith("runtime")

    @property
    def chunks(self) -> bool:
        return "chunks" in self.value

    @property
    def is_async(self) -> bool:
        return self.value.endswith("async")


_POLICIES = {
    Shape.RUNTIME_CHUNKS_FAST_HANDOVER: FAST_HANDOVER,
    Shape.RUNTIME_CHUNKS_LONG_TENURE: FAST_HANDOVER_LONG_TENURE,
}


@dataclass(frozen=True)
class Setup:
    shape: Shape
    limit_name: str
    http: httpx.Client
    service: GuardedHttpService | None
    metrics: RunMetrics | None
    pool: ItemPool | None


_setup: ContextVar[Setup] = ContextVar("engine_bench_setup")


def _body(index: int) -> dict[str, Any]:
    return {"item_id": f"bench-{index}", "amount_cents": index}


def _call(setup: Setup, index: int) -> Interval:
    started = time.time()
    if setup.service is not None:
        setup.service.request("POST", PATH, json=_body(index))
        return started, time.time()
    guard = concurrency(setup.limit_name, occupy=1, strict=True) if setup.shape.limited else nullcontext()
    with guard:
        started = time.time()
        setup.http.post(PATH, json=_body(index)).raise_for_status()
        return started, time.time()


@task(cache_policy=NO_CACHE)
def call_item(index: int) -> Interval:
    return _call(_setup.get(), index)


@task(cache_policy=NO_CACHE)
def call_chunk(indexes: list[int]) -> list[ItemOutcome[Interval]]:
    setup = _setup.get()
    assert setup.pool is not None
    outcomes = setup.pool.run(lambda index: _call(setup, index), indexes)
    publish_outcomes(outcomes, f"items {indexes[0]}-{indexes[-1]}")
    return outcomes


@contextmanager
def _opened(shape: Shape, stack: str, width: int, erp_url: str) -> Iterator[Setup]:
    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    with (
        httpx.Client(base_url=erp_url, limits=limits, timeout=600) as http,
        _opened_service(shape, stack, width, erp_url) as (service, metrics),
        ItemPool.open(width) if shape.chunks else nullcontext() as pool,
    ):
        yield Setup(shape, concurrency_limit_name(stack, ERP), http, service, metrics, pool)


@contextmanager
def _opened_service(
    shape: Shape, stack: str, width: int, erp_url: str
) -> Iterator[tuple[GuardedHttpService | None, RunMetrics | None]]:
    if not shape.uses_runtime:
        yield None, None
        return
    settings = RunSettings(
        flow="bench", stack=stack, environment="development", max_concurrent_tasks=width, timeout_seconds=3600
    )
    policy = _POLICIES.get(shape)
    opened = FlowRuntime.open(settings, concurrency=[ERP], slot_policy=policy or DEFAULT_SLOT_POLICY)
    with opened as runtime:
        # Warms the pool, as the flows do.
        yield runtime.http_service("erp", erp_url, concurrency=ERP), runtime.metrics


def _results(
    setup: Setup, intervals: list[Interval], failed: int, task_runs: int, cpu_started: float
) -> dict[str, Any]:
    attempts = setup.metrics.snapshot().attempt_seconds.get("erp") if setup.metrics else None
    return {
        # From sending a call to its answer, as the runtime saw it: the slot is held this long at least.
        "attempt_ms_mean": 1000 * sum(attempts) / len(attempts) if attempts else None,
        "intervals": intervals,
        "failed": failed,
        "task_runs": task_runs,
        "cpu_s": time.process_time() - cpu_started,
    }


@flow(name="engine-bench")
def engine_bench(
    shape: Shape, items: int, width: int, chunk_size: int, stack: str, erp_url: str, start_at: float
) -> dict[str, Any]:
    time.sleep(max(0.0, start_at - time.time()))  # the runtime opens inside the measured time
    cpu_started = time.process_time()
    with _opened(shape, stack, width, erp_url) as setup:
        token = _setup.set(setup)
        try:
            if shape.chunks:
                chunks = call_chunk.map(chunked(range(items), chunk_size))
                outcomes = [outcome for future in chunks for outcome in future.result()]
                intervals = [(o.started, o.finished) for o in outcomes if o.ok]
                failed = len(outcomes) - len(intervals)
                return _results(setup, intervals, failed, len(chunks), cpu_started)
            # raise_on_failure=False hands back a failed item's exception: Prefect's type does not say so.
            futures = call_item.map(range(items))
            results: list[Interval | BaseException] = [f.result(raise_on_failure=False) for f in futures]
        finally:
            _setup.reset(token)
        intervals = [result for result in results if not isinstance(result, BaseException)]
        return _results(setup, intervals, items - len(intervals), items, cpu_started)


@task(cache_policy=NO_CACHE)
async def call_item_async(index: int) -> Interval:
    setup = _setup.get()
    if setup.service is not None:
        return await asyncio.to_thread(_call, setup, index)
    started = time.time()
    (await _async_http.get().post(PATH, json=_body(index))).raise_for_status()
    return started, time.time()


_async_http: ContextVar[httpx.AsyncClient] = ContextVar("engine_bench_async_http")


@flow(name="engine-bench-async")
async def engine_bench_async(
    shape: Shape, items: int, width: int, stack: str, erp_url: str, start_at: float
) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu_started = time.process_time()
    # to_thread's default pool has cpu_count + 4 threads: fewer than the width on a small machine.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=width))
    gate = asyncio.Semaphore(width)  # the width a thread pool would give: at most this many task runs at once

    async def one(index: int) -> Interval | BaseException:
        async with gate:
            try:
                return await call_item_async(index)
            except Exception as error:
                return error

    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    with _opened(shape, stack, width, erp_url) as setup:
        async with httpx.AsyncClient(base_url=erp_url, limits=limits, timeout=600) as http:
            tokens = _setup.set(setup), _async_http.set(http)
            results = await asyncio.gather(*(one(index) for index in range(items)))
            _async_http.reset(tokens[1])
            _setup.reset(tokens[0])
        intervals = [result for result in results if not isinstance(result, BaseException)]
        return _results(setup, intervals, items - len(intervals), items, cpu_started)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    shape: Shape = args.shape
    if shape.is_async:
        return asyncio.run(
            engine_bench_async(shape, args.items, args.width, args.stack, args.erp_url, args.start_at)
        )
    prefect_width = CHUNKS_IN_FLIGHT if shape.chunks else args.width
    task_runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=prefect_width)
    # TaskRunner is invariant in its future type: no concrete runner fits the parameter (see flows.runtime.sized).
    runner: Callable[..., dict[str, Any]] = engine_bench.with_options(task_runner=task_runner)  # type: ignore[arg-type]
    return runner(shape, args.items, args.width, args.chunk_size, args.stack, args.erp_url, args.start_at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", type=Shape, required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--erp-url", required=True)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(_run(args)))


if __name__ == "__main__":
    main()

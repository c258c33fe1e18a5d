"""One flow run of the adaptive-limit benchmark: from a shared wall-clock start until a shared end, it keeps
`width` Prefect tasks going (a ThreadPoolTaskRunner of that width), each one guarded ERP call through the
runtime's `http_service` (slots of the stack's global limit, 429s retried after Retry-After). With
`--adaptive-floor` the run's limit for the ERP is adaptive (RunSettings.adaptive_floors); without, fixed.
Writes every call (start, end, answered or not), the run's 429s and its adaptive targets to `--out` as JSON.

The start and end come from the driver once every run is ready: a run whose flow run exists creates
`--ready-file` and waits for `--go-file` ({"start_at": T, "end_at": T}). A fixed start time would not do: on a
loaded machine a process may need half a minute, or much longer, to import Prefect and create its flow run.

`python -m tests.bench.adaptive_workload --stack S --erp-url U --width 10 --ready-file R --go-file G --out F
[--adaptive-floor 1] [--caller NAME]`
"""

import argparse
import concurrent.futures
import json
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectConcurrentFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows.erp_api import CALLER_HEADER
from flows.runtime import FlowRuntime, RunSettings
from flows.runtime.guarded_http import GuardedHttpService

ERP = "erp-api"
SERVICE = "erp"
# One call's budget, slot waits and retries included: long enough that no call of the benchmark times out
# (a timeout would be the adaptive limit's other overload signal; this benchmark is about 429s).
CALL_TIMEOUT_SECONDS = 120.0
GO_BOUND_SECONDS = 900.0  # a driver that never says go has died: do not wait for ever
GO_POLL_SECONDS = 0.02

_service: ContextVar[GuardedHttpService] = ContextVar("adaptive_bench_service")


def adaptive_available() -> bool:
    """Whether this checkout's runtime has adaptive limits (RunSettings.adaptive_floors)."""
    return "adaptive_floors" in RunSettings.model_fields


@task(cache_policy=NO_CACHE)
def call_erp(index: int) -> tuple[float, float, str | None]:
    """(started, ended, None when answered, else the error's type): what the flow sees of one call."""
    started = time.time()
    try:
        _service.get().request(
            "POST", "/api/reconciliations", json={"item_id": f"A-{index}", "amount_cents": index}
        )
    except Exception as error:  # a call that gave up is a result here, not a failed benchmark
        return started, time.time(), type(error).__name__
    return started, time.time(), None


def _settings(stack: str, width: int, adaptive_floor: int | None) -> RunSettings:
    extra: dict[str, Any] = {}
    if adaptive_floor is not None:
        if not adaptive_available():
            raise SystemExit("this runtime has no adaptive limits (RunSettings.adaptive_floors)")
        extra["adaptive_floors"] = {ERP: adaptive_floor}
    return RunSettings(
        flow="adaptive-bench",
        stack=stack,
        environment="development",
        max_concurrent_tasks=width,
        timeout_seconds=CALL_TIMEOUT_SECONDS,
        **extra,
    )


def _wait_for_go(ready_file: Path, go_file: Path) -> tuple[float, float]:
    """Say this run is ready, wait for the shared (start, end), sleep until the start."""
    ready_file.touch()
    give_up_at = time.monotonic() + GO_BOUND_SECONDS
    while not go_file.exists():
        if time.monotonic() > give_up_at:
            raise TimeoutError(f"no {go_file} within {GO_BOUND_SECONDS:g} s")
        time.sleep(GO_POLL_SECONDS)
    go = json.loads(go_file.read_text())
    time.sleep(max(0.0, go["start_at"] - time.time()))  # every run starts on the schedule's start
    return go["start_at"], go["end_at"]


def _keep_busy(width: int, end_at: float) -> list[tuple[float, float, str | None]]:
    """Keep `width` tasks submitted until `end_at`, then let the last ones finish: a steady demand on the
    limit through the whole schedule, however fast the ERP answers in each phase."""
    calls: list[tuple[float, float, str | None]] = []
    submitted = 0
    running: dict[concurrent.futures.Future[Any], PrefectConcurrentFuture[Any]] = {}

    def submit() -> None:
        nonlocal submitted
        future = call_erp.submit(submitted)
        assert isinstance(future, PrefectConcurrentFuture)
        running[future.wrapped_future] = future
        submitted += 1

    for _ in range(width):
        submit()
    while running:
        done, _ = concurrent.futures.wait(list(running), return_when=concurrent.futures.FIRST_COMPLETED)
        for wrapped in done:
            calls.append(running.pop(wrapped).result())
            if time.time() < end_at:
                submit()
    return calls


@flow(name="adaptive-bench")
def adaptive_bench(
    stack: str,
    erp_url: str,
    width: int,
    ready_file: Path,
    go_file: Path,
    adaptive_floor: int | None,
    caller: str,
) -> dict[str, Any]:
    settings = _settings(stack, width, adaptive_floor)
    _, end_at = _wait_for_go(ready_file, go_file)
    opened_at = time.time()  # the runtime's metrics start here: its target times count from it
    with FlowRuntime.open(settings, concurrency=[ERP]) as runtime:
        service = runtime.http_service("erp", erp_url, concurrency=ERP, headers={CALLER_HEADER: caller})
        token = _service.set(service)
        try:
            calls = _keep_busy(width, end_at)
        finally:
            _service.reset(token)
        snapshot = runtime.metrics.snapshot()
    targets = getattr(snapshot, "adaptive_targets", {}).get(SERVICE, [])
    return {
        "caller": caller,
        "opened_at": opened_at,
        "calls": calls,
        "throttled": snapshot.throttled[SERVICE],
        "attempt_seconds": list(snapshot.attempt_seconds.get(SERVICE, [])),
        "adaptive_targets": [[opened_at + seconds, target, reason] for seconds, target, reason in targets],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", required=True)
    parser.add_argument("--erp-url", required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--go-file", type=Path, required=True)
    parser.add_argument("--adaptive-floor", type=int, default=None)
    parser.add_argument("--caller", default="bench")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=args.width)
    # `TaskRunner` is invariant in its future type: no concrete runner fits `with_options` (flows/runtime/sized_flow.py)
    result = adaptive_bench.with_options(task_runner=runner)(  # type: ignore[arg-type]
        args.stack, args.erp_url, args.width, args.ready_file, args.go_file, args.adaptive_floor, args.caller
    )
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()

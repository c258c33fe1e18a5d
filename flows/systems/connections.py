"""Open the external systems for one flow run, and find them again from its tasks.

Tasks run in the task runner's threads; Prefect copies the submitting context into them, so a context
variable set by the flow is what its tasks see."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from prefect.context import FlowRunContext

from flows.erp_api import CALLER_HEADER
from flows.runtime import FlowRuntime, ItemPool, RunMetrics, RunSettings
from flows.systems.erp import ErpApi
from flows.systems.results_db import ResultsDatabase
from rpa_naming import DB_WRITE, ERP_API, ERP_API_RATE


@dataclass(frozen=True)
class RpaSystems:
    erp: ErpApi
    results: ResultsDatabase
    run_id: str  # the flow run (or local process) these systems serve, recorded with what it writes
    metrics: RunMetrics  # what the run's items and calls did: items say how they ended and what they call
    items: ItemPool  # the run's threads for items in chunks: its width bounds them, however many chunks run


_current: ContextVar[RpaSystems | None] = ContextVar("rpa_systems", default=None)


@contextmanager
def open_systems(settings: RunSettings) -> Iterator[RpaSystems]:
    run_id = _run_id()
    with FlowRuntime.open(settings, concurrency=[ERP_API, DB_WRITE], rates=[ERP_API_RATE]) as runtime:
        erp = ErpApi(
            runtime.http_service(
                "erp",
                settings.erp_api_url,
                concurrency=ERP_API,
                rate=ERP_API_RATE,
                headers={CALLER_HEADER: run_id},
            )
        )
        results = ResultsDatabase(
            settings.database_url, runtime.slots(DB_WRITE), settings.timeout_seconds, run_id
        )
        try:
            results.create_tables()
            # Closed before the runtime: items still going finish with their slots, then the slots go back.
            with ItemPool.open(settings.max_concurrent_tasks) as items:
                opened = RpaSystems(erp, results, run_id, runtime.metrics, items)
                token = _current.set(opened)
                try:
                    yield opened
                finally:
                    _current.reset(token)
        finally:
            results.close()


def systems() -> RpaSystems:
    opened = _current.get()
    if opened is None:
        raise RuntimeError("no RPA systems are open: call tasks from a flow inside `open_systems(settings)`")
    return opened


def _run_id() -> str:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return f"local-{os.getpid()}"
    return str(context.flow_run.id)

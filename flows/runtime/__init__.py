"""The concurrency runtime the RPA flows share. What is named here is its interface: the flows, the operator
commands and the tools import these names only, from `flows.runtime` (tests/unit/test_runtime_surface.py holds
them to it); its modules are its internals. The design: docs/runtime.md.

- `RunSettings.load(flow)`: the run's stack and environment (`RPA_*`, read once) and its sizing from the
  stack's Variables; `sized(flow, settings)` applies the width to a flow's task runner.
- `FlowRuntime.open(settings, concurrency=[...], rates=[...])`: per-run slot pools and rate limiters over the
  stack's Prefect global limits, and the guarded services (`GuardedHttpService`) and slots (`SlotPool`) over
  them.
- `ItemPool`, `chunked`, `publish_outcomes`, `ItemOutcome`: items in chunks, each item's outcome kept.
- `observed_run(settings)`: a run's `RunMetrics`, published as its metrics table (`read_rows` reads it back).
"""

from flows.runtime.deadline import Deadline
from flows.runtime.errors import (
    CircuitOpenError,
    ExternalServiceError,
    FlowEnvironmentError,
    InvalidVariableError,
    MissingConcurrencyLimitError,
    MissingVariableError,
    NotARateLimitError,
    RuntimeConfigurationError,
    SlotWaitTimeout,
)
from flows.runtime.flow_runtime import FlowRuntime
from flows.runtime.guarded_http import GuardedHttpService
from flows.runtime.item_chunks import ItemOutcome, ItemPool, chunked, publish_outcomes
from flows.runtime.metrics_artifact import ITEMS_DONE, ITEMS_FAILED, MetricRow, read_rows
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.run_observation import observed_run
from flows.runtime.run_settings import RunSettings
from flows.runtime.sized_flow import sized
from flows.runtime.slot_pool import SlotPool

__all__ = [
    "ITEMS_DONE",
    "ITEMS_FAILED",
    "CircuitOpenError",
    "Deadline",
    "ExternalServiceError",
    "FlowEnvironmentError",
    "FlowRuntime",
    "GuardedHttpService",
    "InvalidVariableError",
    "ItemOutcome",
    "ItemPool",
    "MetricRow",
    "MissingConcurrencyLimitError",
    "MissingVariableError",
    "NotARateLimitError",
    "RunMetrics",
    "RunSettings",
    "RuntimeConfigurationError",
    "SlotPool",
    "SlotWaitTimeout",
    "chunked",
    "observed_run",
    "publish_outcomes",
    "read_rows",
    "sized",
]

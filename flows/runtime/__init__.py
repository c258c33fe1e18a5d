"""The concurrency runtime the RPA flows share.

- `RunSettings.load(flow)`: stack and environment from `RPA_STACK` / `RPA_ENVIRONMENT` (`FlowEnvironment`
  reads every `RPA_*` setting; a deployed run must have both), width and timeout from the stack's Variables;
  `sized(flow, settings)` applies the width to a flow's task runner.
- `FlowRuntime.open(settings, concurrency=[...], rates=[...])`: per-run slot pools and rate limiters over the
  stack's Prefect global limits (`<stack>-<resource>`), held without a server round trip per task.
- `GuardedHttpService`: slots, rate, circuit breaker, retries with Retry-After, per-environment timeout.
- `observed_run(settings)`: around a flow run's work, its `RunMetrics` (published as a table artifact of the
  run at its end) and the runtime's Prefect events.
"""

from flows.runtime.circuit_breaker import BreakerState, CircuitBreaker
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
from flows.runtime.rate_limiter import RateLimiter, RatePolicy
from flows.runtime.retry_policy import RetryPolicy
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.run_observation import observed_run
from flows.runtime.run_settings import FlowEnvironment, RunSettings
from flows.runtime.sized_flow import sized
from flows.runtime.slot_pool import SlotPolicy, SlotPool

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Deadline",
    "ExternalServiceError",
    "FlowEnvironment",
    "FlowEnvironmentError",
    "FlowRuntime",
    "GuardedHttpService",
    "InvalidVariableError",
    "MissingConcurrencyLimitError",
    "MissingVariableError",
    "NotARateLimitError",
    "RateLimiter",
    "RatePolicy",
    "RetryPolicy",
    "RunMetrics",
    "RunSettings",
    "RuntimeConfigurationError",
    "SlotPolicy",
    "SlotPool",
    "SlotWaitTimeout",
    "observed_run",
    "sized",
]

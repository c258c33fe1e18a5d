"""The ways a benchmark task can be held to a shared limit, one per compared variant.

Every variant wraps the same bare HTTP call, so the comparison is of the limiters alone; the time measured
inside the guard is what "client-seen concurrency" counts."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from enum import StrEnum

from prefect.concurrency.sync import concurrency, rate_limit

from flows.runtime import Deadline, FlowRuntime

ERP = "erp-api"
ERP_RATE = "erp-api-rate"
WAIT_SECONDS = 3600.0  # the benchmark caps whole runs instead


class Variant(StrEnum):
    UNLIMITED = "unlimited"  # no limiter: the floor set by Prefect's task engine and HTTP
    PREFECT_CONCURRENCY = "prefect-concurrency"  # prefect.concurrency.sync.concurrency() per task
    PREFECT_TAGS = "prefect-tags"  # a tag concurrency limit on the task
    RUNTIME = "runtime"  # this repository's slot pool
    PREFECT_RATE = "prefect-rate"  # prefect.concurrency.sync.rate_limit() per task
    RUNTIME_RATE = "runtime-rate"  # this repository's rate limiter

    @property
    def is_rate(self) -> bool:
        return self in (Variant.PREFECT_RATE, Variant.RUNTIME_RATE)


def guard(variant: Variant, limit_name: str, runtime: FlowRuntime | None) -> AbstractContextManager[None]:
    if variant is Variant.PREFECT_CONCURRENCY:
        return concurrency(limit_name, occupy=1, strict=True)
    if variant is Variant.PREFECT_RATE:
        return _prefect_rate(limit_name)
    if variant is Variant.RUNTIME and runtime is not None:
        return runtime.slots(ERP).slot(Deadline.after(WAIT_SECONDS))
    if variant is Variant.RUNTIME_RATE and runtime is not None:
        return _runtime_rate(runtime)
    return nullcontext()  # UNLIMITED, and PREFECT_TAGS (the task engine holds the tag's slot)


@contextmanager
def _prefect_rate(limit_name: str) -> Iterator[None]:
    rate_limit(limit_name, occupy=1, strict=True)
    yield


@contextmanager
def _runtime_rate(runtime: FlowRuntime) -> Iterator[None]:
    runtime.rate(ERP_RATE).wait_for_token(Deadline.after(WAIT_SECONDS))
    yield

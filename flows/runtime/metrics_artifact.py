"""A flow run's metrics as a Prefect table artifact (`<flow>-run-metrics`), where Prefect users look for what
a run did: the run's Artifacts tab, and the Artifacts page, which keeps every run's table under one key.

One row per figure, `{"metric", "of", "value"}`: `of` names the service or limit a figure is about (empty for
the run's own), values are numbers (None where nothing was measured), so that the table reads back as data."""

import json
from collections import Counter
from typing import TypedDict
from uuid import UUID

from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
from prefect.client.schemas.sorting import ArtifactSort

from flows.runtime.run_metrics import MetricsSnapshot, percentile
from flows.runtime.run_settings import RunSettings

ITEMS_DONE = "items done"
ITEMS_FAILED = "items failed"
ITEMS_RETRIED = "items retried"
THROUGHPUT = "throughput (items/min)"
WORKING_TIME = "working time (s)"
LATENCY = "call latency {} (ms)"  # per attempt, from sending it to its answer
THROTTLED = "429s answered"
RETRY_AFTER_WAIT = "Retry-After wait (s)"
BREAKER_OPENINGS = "circuit-breaker openings"
SLOT_WAIT = "slot wait {} (ms)"  # per task; a rate limit's includes the slot that comes with each token
WIDTH = "task-runner width"
ADAPTIVE_TARGET = "adaptive target {}"  # first, lowest, last
ADAPTIVE_CHANGES = "adaptive changes ({})"  # per reason: 429, timeout, latency, success

_REASONS = ("429", "timeout", "latency", "success")
_LATENCY_PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_WAIT_PERCENTILES = {"p50": 0.5, "p95": 0.95}


class MetricRow(TypedDict):
    metric: str
    of: str
    value: float | None


_KEY_SUFFIX = "-run-metrics"


def artifact_key(flow: str) -> str:
    return f"{flow}{_KEY_SUFFIX}"


def metric_rows(snapshot: MetricsSnapshot, width: int) -> list[MetricRow]:
    rows = [
        _row(ITEMS_DONE, snapshot.items_done),
        _row(ITEMS_FAILED, snapshot.items_failed),
        _row(ITEMS_RETRIED, snapshot.items_retried),
        _row(THROUGHPUT, round(snapshot.items_per_minute, 1)),
        _row(WORKING_TIME, round(snapshot.working_seconds, 2)),
    ]
    services = set(snapshot.attempt_seconds) | set(snapshot.throttled) | set(snapshot.breaker_openings)
    for service in sorted(services):
        latencies = snapshot.attempt_seconds.get(service, ())
        rows += [
            _row(LATENCY.format(name), _milliseconds(percentile(latencies, fraction)), service)
            for name, fraction in _LATENCY_PERCENTILES.items()
        ]
        rows.append(_row(THROTTLED, snapshot.throttled[service], service))
        rows.append(_row(RETRY_AFTER_WAIT, round(snapshot.retry_after_wait_seconds[service], 2), service))
        rows.append(_row(BREAKER_OPENINGS, snapshot.breaker_openings[service], service))
    for limit, waits in sorted(snapshot.slot_waits.items()):
        rows += [
            _row(SLOT_WAIT.format(name), _milliseconds(percentile(waits, fraction)), limit)
            for name, fraction in _WAIT_PERCENTILES.items()
        ]
    for service, points in sorted(snapshot.adaptive_targets.items()):
        targets = [point.target for point in points]
        rows += [
            _row(ADAPTIVE_TARGET.format("first"), targets[0], service),
            _row(ADAPTIVE_TARGET.format("lowest"), min(targets), service),
            _row(ADAPTIVE_TARGET.format("last"), targets[-1], service),
        ]
        reasons = Counter(point.reason for point in points[1:])
        rows += [_row(ADAPTIVE_CHANGES.format(reason), reasons[reason], service) for reason in _REASONS]
    rows.append(_row(WIDTH, width))
    return rows


def publish(settings: RunSettings, snapshot: MetricsSnapshot) -> UUID:
    """A table artifact of the flow run this is called in."""
    description = (
        f"**{settings.flow}** on stack **{settings.stack}** ({settings.environment}), "
        f"task-runner width **{settings.max_concurrent_tasks}**: items, external calls and slot waits."
    )
    rows = metric_rows(snapshot, settings.max_concurrent_tasks)
    return create_table_artifact(  # type: ignore[return-value]  # sync here: no event loop in a flow's thread
        [dict(row) for row in rows], key=artifact_key(settings.flow), description=description
    )


def read_rows(client: SyncPrefectClient, flow_run_id: UUID) -> tuple[str, list[MetricRow]] | None:
    """The description and rows of a flow run's metrics table, the latest if it has several; None if none."""
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), type=ArtifactFilterType(any_=["table"])
        ),
        sort=ArtifactSort.CREATED_DESC,
    )
    for artifact in artifacts:
        if artifact.key is not None and artifact.key.endswith(_KEY_SUFFIX):
            data = artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data)
            return artifact.description or "", json.loads(data)
    return None


def _row(metric: str, value: float | None, of: str = "") -> MetricRow:
    return {"metric": metric, "of": of, "value": value}


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)

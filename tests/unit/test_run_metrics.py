"""The run's metrics recorder, its percentiles and the events aggregated from it, without a server: events go
to a list instead of Prefect's EventsWorker."""

import time
from array import array
from typing import Any

from flows.runtime.metrics_artifact import (
    ADAPTIVE_CHANGES,
    ADAPTIVE_TARGET,
    ITEMS_RETRIED,
    SLOT_WAIT,
    THROTTLED,
    metric_rows,
)
from flows.runtime.run_metrics import RunMetrics, percentile
from flows.runtime.runtime_events import RuntimeEvents


def test_percentiles_are_observed_values_in_order():
    values = [0.5, 0.1, 0.4, 0.2, 0.3] * 20 + [9.0]
    p50, p95, p99 = (percentile(values, fraction) for fraction in (0.5, 0.95, 0.99))
    assert (p50, p95, p99) == (0.3, 0.5, 0.5)
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_an_item_counts_as_retried_once_however_many_of_its_calls_were():
    metrics = RunMetrics()
    with metrics.item():
        metrics.call_retried()
        metrics.call_retried()
    with metrics.item():
        pass
    metrics.call_retried()  # outside any item (listing the batch): no item to blame
    metrics.items_finished(done=2, failed=0)
    rows = {(row["metric"], row["of"]): row["value"] for row in metric_rows(metrics.snapshot(), width=3)}
    assert rows[(ITEMS_RETRIED, "")] == 1


def test_waits_and_429s_go_out_aggregated_at_most_once_per_resource_per_flush():
    metrics = RunMetrics()
    waits = array("d", [0.0, 0.5, 0.0, 1.5])
    metrics.slot_waits_of("dev-erp-api", lambda: array("d", waits))
    metrics.slot_waits_of("dev-db-write", lambda: array("d", [0.0, 0.0]))  # nobody waited: no event
    for _ in range(7):
        metrics.throttled("erp")
    metrics.retry_after_waited("erp", 7.0)
    sent: list[dict[str, Any]] = []
    events = RuntimeEvents(
        metrics, [], interval_seconds=3600, emit=lambda **event: sent.append(event), drain=lambda: None
    )

    events.flush()
    assert [(e["event"], e["resource"]["prefect.resource.name"]) for e in sent] == [
        ("rpa.slots.waited", "dev-erp-api"),
        ("rpa.service.throttled", "erp"),
    ]
    assert sent[0]["payload"] == {"tasks": 4, "waited": 2, "total_wait_seconds": 2.0, "max_wait_seconds": 1.5}
    assert sent[1]["payload"] == {"count": 7, "retry_after_wait_seconds": 7.0}

    sent.clear()
    events.flush()
    assert sent == []  # nothing new

    waits.append(0.25)
    metrics.throttled("erp")
    events.close()  # the last flush: what came since the previous one
    assert [e["payload"] for e in sent] == [
        {"tasks": 1, "waited": 1, "total_wait_seconds": 0.25, "max_wait_seconds": 0.25},
        {"count": 1, "retry_after_wait_seconds": 0.0},
    ]
    rows = {(row["metric"], row["of"]): row["value"] for row in metric_rows(metrics.snapshot(), width=3)}
    assert rows[(THROTTLED, "erp")] == 8
    assert rows[(SLOT_WAIT.format("p95"), "dev-erp-api")] == 1500.0


def test_an_adaptive_target_goes_out_as_one_event_per_flush_and_into_the_table():
    metrics = RunMetrics()
    start = time.monotonic()
    metrics.adaptive_target("erp", start, 10, "start")
    sent: list[dict[str, Any]] = []
    events = RuntimeEvents(
        metrics, [], interval_seconds=3600, emit=lambda **event: sent.append(event), drain=lambda: None
    )
    events.flush()
    assert sent == []  # a starting target is no change

    for target, reason in ((7, "429"), (4, "429"), (5, "success"), (6, "success")):
        metrics.adaptive_target("erp", time.monotonic(), target, reason)
    events.flush()
    assert [(e["event"], e["resource"]["prefect.resource.name"], e["payload"]) for e in sent] == [
        (
            "rpa.adaptive.changed",
            "erp",
            {
                "target": 6,
                "lowest": 4,
                "highest": 7,
                "changes": {"429": 2, "success": 2},
                "last_reason": "success",
            },
        )
    ]
    sent.clear()
    events.close()
    assert sent == []  # nothing new

    rows = {(row["metric"], row["of"]): row["value"] for row in metric_rows(metrics.snapshot(), width=10)}
    assert [rows[(ADAPTIVE_TARGET.format(k), "erp")] for k in ("first", "lowest", "last")] == [10, 4, 6]
    changes = {
        reason: rows[(ADAPTIVE_CHANGES.format(reason), "erp")]
        for reason in ("429", "timeout", "latency", "success")
    }
    assert changes == {"429": 2, "timeout": 0, "latency": 0, "success": 2}
    [points] = metrics.snapshot().adaptive_targets.values()
    assert [(target, reason) for _, target, reason in points][:2] == [(10, "start"), (7, "429")]

"""Prefect events about one flow run's runtime, for automations (pause a deployment while the ERP's breaker is
open, alert on a limit that keeps tasks waiting): one per lease, per breaker transition, and per resource at
most every `interval_seconds` for what is aggregated; never one per call. The events and their payloads:
docs/runtime.md, "Events and automations"."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.events.worker import EventsWorker

from flows.runtime.run_metrics import MetricsSnapshot, RunMetrics

Emit = Callable[..., Any]

_DRAIN_SECONDS = 10.0  # at most this long at close for the events to reach the server


def limit_resource(limit: str) -> dict[str, str]:
    return {"prefect.resource.id": f"rpa.concurrency-limit.{limit}", "prefect.resource.name": limit}


def service_resource(service: str) -> dict[str, str]:
    return {"prefect.resource.id": f"rpa.service.{service}", "prefect.resource.name": service}


def flow_run_resource(flow_run_id: UUID, name: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
        "prefect.resource.role": "flow-run",
        "prefect.resource.name": name,
    }


def current_flow_run() -> list[dict[str, str]]:
    """The flow run this code runs in, as related resources (none outside a flow run)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return []
    return [flow_run_resource(context.flow_run.id, context.flow_run.name)]


class RuntimeEvents:
    def __init__(
        self,
        metrics: RunMetrics,
        related: list[dict[str, str]],
        *,
        interval_seconds: float = 10.0,
        emit: Emit = emit_event,
        drain: Callable[[], None] = lambda: _wait_until_sent(_DRAIN_SECONDS),
    ) -> None:
        self._metrics = metrics
        self._related = related
        self._interval_seconds = interval_seconds
        self._emit = emit
        self._drain = drain
        # What the last aggregated events covered: waits per limit, 429s and Retry-After wait per service.
        self._sent_waits: dict[str, int] = {}
        self._sent_throttled: dict[str, tuple[int, float]] = {}
        self._sent_targets: dict[str, int] = {}  # per service, how many target points went out
        self._flush_lock = threading.Lock()  # the flusher thread and `close` may flush at once
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="rpa-events", daemon=True)
        self._flusher.start()

    def leased(self, limit: str, lease_id: UUID, slots: int) -> None:
        self._send("rpa.slots.leased", limit_resource(limit), {"lease_id": str(lease_id), "slots": slots})

    def renewed(self, limit: str, lease_id: UUID, slots: int) -> None:
        self._send("rpa.slots.renewed", limit_resource(limit), {"lease_id": str(lease_id), "slots": slots})

    def released(self, limit: str, lease_id: UUID, slots: int) -> None:
        self._send("rpa.slots.released", limit_resource(limit), {"lease_id": str(lease_id), "slots": slots})

    def breaker_opened(self, service: str) -> None:
        self._send("rpa.breaker.opened", service_resource(service), {})

    def breaker_closed(self, service: str) -> None:
        self._send("rpa.breaker.closed", service_resource(service), {})

    def close(self) -> None:
        """Send what is pending and wait (a bounded time) until Prefect's EventsWorker has sent it."""
        self._stop.set()
        self._flusher.join()
        self.flush()
        self._drain()

    def flush(self) -> None:
        """One aggregated event per limit that tasks waited for, and per service that answered 429, since the
        last flush."""
        with self._flush_lock:
            snapshot = self._metrics.snapshot()
            self._send_waits(snapshot)
            self._send_throttled(snapshot)
            self._send_adaptive(snapshot)

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self._interval_seconds):
            self.flush()

    def _send_waits(self, snapshot: MetricsSnapshot) -> None:
        for limit, waits in snapshot.slot_waits.items():
            new = waits[self._sent_waits.get(limit, 0) :]
            self._sent_waits[limit] = len(waits)
            waited = [seconds for seconds in new if seconds > 0]
            if waited:
                payload = {
                    "tasks": len(new),
                    "waited": len(waited),
                    "total_wait_seconds": round(sum(waited), 3),
                    "max_wait_seconds": round(max(waited), 3),
                }
                self._send("rpa.slots.waited", limit_resource(limit), payload)

    def _send_throttled(self, snapshot: MetricsSnapshot) -> None:
        for service, count in snapshot.throttled.items():
            waited = snapshot.retry_after_wait_seconds[service]
            sent_count, sent_wait = self._sent_throttled.get(service, (0, 0.0))
            self._sent_throttled[service] = (count, waited)
            if count > sent_count:
                payload = {
                    "count": count - sent_count,
                    "retry_after_wait_seconds": round(waited - sent_wait, 3),
                }
                self._send("rpa.service.throttled", service_resource(service), payload)

    def _send_adaptive(self, snapshot: MetricsSnapshot) -> None:
        for service, points in snapshot.adaptive_targets.items():
            sent = self._sent_targets.get(service, 0)
            self._sent_targets[service] = len(points)
            changes = [point for point in points[sent:] if point.reason != "start"]
            if changes:
                targets = [point.target for point in changes]
                payload = {
                    "target": targets[-1],
                    "lowest": min(targets),
                    "highest": max(targets),
                    "changes": dict(Counter(point.reason for point in changes)),
                    "last_reason": changes[-1].reason,
                }
                self._send("rpa.adaptive.changed", service_resource(service), payload)

    def _send(self, event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        self._emit(event=event, resource=resource, related=self._related, payload=payload)


def _wait_until_sent(seconds: float) -> None:
    """Until Prefect's EventsWorker has sent what it was given, for `seconds` at most. It drains at
    interpreter exit too, but a flow-run process may be ended by its runner before; bounded, should the
    server be down."""
    waiting = threading.Thread(target=EventsWorker.instance().wait_until_empty, daemon=True)
    waiting.start()
    waiting.join(seconds)

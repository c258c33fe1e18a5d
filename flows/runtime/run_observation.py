"""What watches one flow run's runtime: its metrics recorder, the events sent from them, and the Prefect
server it talks to (an outage is told once: flows/runtime/server_outage.py).

An RPA flow's entrypoint opens it around its work (`observed_run`), so that the metrics table and the
events belong to the flow run its deployment started, not to the subflow that does the work; the runtime
opened inside finds it through a context variable (Prefect runs a sync subflow in its caller's thread, and
copies that thread's context into every task). A runtime opened outside any (a test, the benchmark) watches
itself."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from prefect.settings import get_current_settings

from flows.runtime import metrics_artifact, server_outage
from flows.runtime.run_metrics import RunMetrics
from flows.runtime.run_settings import RunSettings
from flows.runtime.runtime_events import RuntimeEvents, current_flow_run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunObservation:
    metrics: RunMetrics
    events: RuntimeEvents

    @classmethod
    def of_current_flow_run(cls) -> "RunObservation":
        metrics = RunMetrics()
        return cls(metrics, RuntimeEvents(metrics, current_flow_run()))


_current: ContextVar[RunObservation | None] = ContextVar("rpa_run_observation", default=None)


@contextmanager
def observed_run(settings: RunSettings) -> Iterator[RunMetrics]:
    """Around a flow run's work: when it ends, failed or not, its last events are sent and its metrics are
    published as a table artifact of this flow run."""
    with server_outage.watched(get_current_settings()):
        observation = RunObservation.of_current_flow_run()
        token = _current.set(observation)
        try:
            yield observation.metrics
        finally:
            _current.reset(token)
            observation.events.close()
            try:
                metrics_artifact.publish(settings, observation.metrics.snapshot())
            except Exception as error:  # the work is done: a missing table must not fail the run, or hide why
                logger.warning("the metrics of this run were not published: %s", error)


@contextmanager
def run_observation() -> Iterator[RunObservation]:
    """The observation of the flow run this runs in, else one that lasts as long as this context."""
    current = _current.get()
    if current is not None:
        yield current
        return
    with server_outage.watched(get_current_settings()):
        own = RunObservation.of_current_flow_run()
        try:
            yield own
        finally:
            own.events.close()

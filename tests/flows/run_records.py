"""What a flow run left on the Prefect server about itself, read back the way a user's tools would: its metrics
table artifact and the runtime's events related to it."""

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventRelatedFilter
from prefect.events.schemas.events import ReceivedEvent

from flows.runtime.metrics_artifact import read_rows

RPA_EVENTS = "rpa."


def metrics_of(flow_run_id: UUID) -> dict[tuple[str, str], float | None]:
    """The run's metrics table, by (metric, of)."""
    with get_client(sync_client=True) as client:
        table = read_rows(client, flow_run_id)
    assert table is not None, f"flow run {flow_run_id} has no metrics table"
    return {(row["metric"], row["of"]): row["value"] for row in table[1]}


def rpa_events_of(flow_run_id: UUID, since: datetime) -> list[ReceivedEvent]:
    """Every `rpa.*` event related to the flow run, oldest first."""
    related = EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"])
    occurred = EventOccurredFilter(
        since=since - timedelta(minutes=1), until=datetime.now(UTC) + timedelta(minutes=1)
    )
    event_filter = EventFilter(occurred=occurred, event=EventNameFilter(prefix=[RPA_EVENTS]), related=related)
    events: list[ReceivedEvent] = []
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=event_filter, limit=50)  # the most the server returns per page
        events += page.events
        while page.next_page is not None:
            page = client.read_events_page(str(page.next_page))
            events += page.events
    return sorted(events, key=lambda event: event.occurred)


def wait_for_events(flow_run_id: UUID, since: datetime, names: set[str]) -> list[ReceivedEvent]:
    """The run's `rpa.*` events once every name in `names` is among them: the server stores events a moment
    after it receives them. Fails the test with those it has if some never come."""
    deadline = time.monotonic() + 60
    while True:
        events = rpa_events_of(flow_run_id, since)
        missing = names - {event.event for event in events}
        if not missing:
            return events
        if time.monotonic() > deadline:
            pytest.fail(
                f"events {sorted(missing)} never reached the server; it has {[e.event for e in events]}"
            )
        time.sleep(0.5)

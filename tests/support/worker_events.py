"""Which worker ran each flow run, as the server records it: a worker sends `prefect.worker.submitted-flow-run`
(the worker as the resource, the flow run among the related ones) when it starts a run's infrastructure."""

import time
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import SyncPrefectClient
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventRelatedFilter

SUBMITTED = "prefect.worker.submitted-flow-run"
EVENTS_BOUND_SECONDS = 120  # the server stores events a moment after it receives them; a bound on a hang


def workers_of_flow_runs(client: SyncPrefectClient, flow_run_ids: list[str]) -> dict[str, str]:
    """Flow run id -> the name of the worker that submitted it; fails when one never shows."""
    deadline = time.monotonic() + EVENTS_BOUND_SECONDS
    while True:
        found = _submitted(client, flow_run_ids)
        if len(found) == len(flow_run_ids) or time.monotonic() > deadline:
            break
        time.sleep(1)
    missing = set(flow_run_ids) - set(found)
    assert not missing, f"no {SUBMITTED} event for flow runs {sorted(missing)}"
    return found


def _submitted(client: SyncPrefectClient, flow_run_ids: list[str]) -> dict[str, str]:
    related = EventRelatedFilter(id=[f"prefect.flow-run.{run_id}" for run_id in flow_run_ids])
    now = datetime.now(UTC)
    occurred = EventOccurredFilter(since=now - timedelta(days=1), until=now + timedelta(minutes=1))
    event_filter = EventFilter(occurred=occurred, event=EventNameFilter(name=[SUBMITTED]), related=related)
    page = client.read_events(filter=event_filter, limit=50)
    events = list(page.events)
    while page.next_page is not None:
        page = client.read_events_page(str(page.next_page))
        events += page.events
    found = {}
    for event in events:
        for resource in event.related:
            run_id = resource.id.removeprefix("prefect.flow-run.")
            if resource.id.startswith("prefect.flow-run.") and run_id in flow_run_ids:
                found[run_id] = event.resource.name or event.resource.id
    return found

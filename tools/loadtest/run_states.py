"""Flow runs by state over time, as the Prefect server holds them: polled in a thread during the load.

The load's runs are told apart by their `batch` parameter (unique to the load), since a run started from the
command line carries no tag or deployment of its own; runs started from the deployment carry it too."""

import contextlib
import contextvars
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterParentTaskRunId,
)
from prefect.client.schemas.sorting import FlowRunSort

from tools.loadtest.driver import FlowRunDriver
from tools.loadtest.plan import FLOW
from tools.loadtest.result import RunStateSample

POLL_SECONDS = 1.0


class RunStatePoller:
    def __init__(self, runs: FlowRunDriver, started: float) -> None:
        self._runs = runs
        self._started = started
        self._samples: list[RunStateSample] = []
        self._final: dict[str, str] = {}
        self._stop = threading.Event()
        # The thread runs in a copy of this context: Prefect's settings (the API of this load) live there.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._poll_until_stopped,),
            name="run-states",
            daemon=True,
        )

    def __enter__(self) -> "RunStatePoller":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the final states, once every run has ended

    @property
    def samples(self) -> list[RunStateSample]:
        return list(self._samples)

    def final_state(self, batch: str) -> str | None:
        return self._final.get(batch)

    def _poll_until_stopped(self) -> None:
        while True:
            # A busy server missing one poll leaves a gap in the picture, not a failed load.
            with contextlib.suppress(httpx.HTTPError):
                self.sample()
            if self._stop.wait(POLL_SECONDS):
                return

    def sample(self) -> None:
        since = datetime.fromtimestamp(self._started, UTC) - timedelta(minutes=1)
        with get_client(sync_client=True) as client:
            found = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW])),
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=since),
                    parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            )
        states = {
            str(run.parameters.get("batch")): run.state_name or "Unknown"
            for run in found
            if run.parameters.get("batch") is not None
        }
        counts: Counter[str] = Counter()
        for batch in self._runs.batches():
            state = states.get(batch)
            if state is None:
                state = self._runs.unseen_state(batch)
            else:
                self._final[batch] = state
            counts[state] += 1
        self._samples.append(RunStateSample(seconds=time.time() - self._started, counts=dict(counts)))

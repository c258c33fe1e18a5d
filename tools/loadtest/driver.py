"""What a load needs from the flow runs it drives, local processes or deployment runs alike: start one per
batch, say how many are still going, stop the rest, and after the load, the items done and how each ended."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console

from tools.loadtest.result import FlowRunOutcome

STARTING = "Starting"  # the process runs, the server has no flow run for it yet
NO_RUN = "No run"  # the process ended without its flow run ever reaching the server


@dataclass(frozen=True)
class Collected:
    reconciled: int  # items done
    counted_from: str  # where `reconciled` was read: "results database" or "metrics artifacts"
    outcomes: list[FlowRunOutcome]


class FlowRunDriver(Protocol):
    def start(self, batch: str, items: int) -> None: ...

    def batches(self) -> list[str]:
        """One per flow run started, in order: the runs' `batch` parameter, unique to the load."""
        ...

    def running(self) -> int: ...

    def unseen_state(self, batch: str) -> str:
        """What to count a run as while the server shows no flow run with its batch."""
        ...

    def stop(self) -> None:
        """Every run still going is asked to stop (it releases its slots); returns once all have ended."""
        ...

    def collect(self, final_state: Callable[[str], str | None], console: Console) -> Collected:
        """After stop(): the items done and each run's outcome; runs that did not complete are shown."""
        ...

"""How many slots of a limit the Prefect server counts as held, sampled over time from a thread of its own:
what the other flow runs of the stack cannot have."""

import threading
import time
from types import TracebackType

from prefect.client.orchestration import get_client

from tests.support.time_weighted import time_weighted_mean


class HeldSlotsSampler:
    def __init__(self, limit_name: str, every_seconds: float = 0.1) -> None:
        self._limit_name = limit_name
        self._every_seconds = every_seconds
        self._samples: list[tuple[float, int]] = []  # (wall-clock time, active slots)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "HeldSlotsSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def mean_between(self, start: float, end: float) -> float:
        """Time-weighted mean of the slots held from `start` to `end` (each sample holds until the next)."""
        mean = time_weighted_mean([(at, float(held)) for at, held in self._samples], start, end)
        if mean is None:
            raise ValueError(f"no slots sampled between {start} and {end}")
        return mean

    def _sample(self) -> None:
        with get_client(sync_client=True) as client:
            while not self._stop.is_set():
                limit = client.read_global_concurrency_limit_by_name(self._limit_name)
                self._samples.append((time.time(), limit.active_slots))
                self._stop.wait(self._every_seconds)

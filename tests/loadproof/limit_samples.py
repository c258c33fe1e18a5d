"""The ERP's two limits as the Prefect server counts them during the load, sampled from a thread of its own:
the slots of the concurrency limit that flow runs hold, and the rate limit's bucket (its count after decay,
as the server's arithmetic has it: stored - floor(decay * seconds since its last write))."""

import math
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from prefect.client.orchestration import SyncPrefectClient

from tests.support.time_weighted import time_weighted_mean


@dataclass(frozen=True)
class LimitSample:
    at: float  # wall clock
    held: int  # slots of the concurrency limit
    bucket: int  # occupied slots of the rate limit


class LimitSampler:
    def __init__(self, api_url: str, concurrency: str, rate: str, every_seconds: float = 0.2) -> None:
        self._api_url = api_url
        self._names = (concurrency, rate)
        self._every_seconds = every_seconds
        self.samples: list[LimitSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "LimitSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        concurrency, rate = self._names
        with SyncPrefectClient(self._api_url) as client:
            while not self._stop.is_set():
                held = client.read_global_concurrency_limit_by_name(concurrency).active_slots
                bucket = client.read_global_concurrency_limit_by_name(rate)
                at = time.time()
                updated = bucket.updated.timestamp() if bucket.updated else at
                drained = bucket.slot_decay_per_second * (at - updated)
                occupied = max(0, bucket.active_slots - math.floor(max(0.0, drained)))
                self.samples.append(LimitSample(at, held, occupied))
                self._stop.wait(self._every_seconds)


def mean_between(samples: list[LimitSample], start: float, end: float, field: str) -> float | None:
    """Time-weighted mean of a sample field from `start` to `end` (each sample holds until the next)."""
    return time_weighted_mean([(sample.at, getattr(sample, field)) for sample in samples], start, end)

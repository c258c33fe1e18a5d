"""A point in time after which a piece of work gives up: slot waits, retries and HTTP calls share one."""

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    seconds: float
    expires_at: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() == 0.0

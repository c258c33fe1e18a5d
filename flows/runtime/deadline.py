"""A point in time after which a piece of work gives up: slot waits, retries and HTTP calls share one."""

from dataclasses import dataclass, field

from flows.clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True)
class Deadline:
    seconds: float
    expires_at: float  # on `clock`'s monotonic time, which whoever waits for this deadline must share
    clock: Clock = field(default=SYSTEM_CLOCK, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = SYSTEM_CLOCK) -> "Deadline":
        return cls(seconds, clock.monotonic() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock.monotonic())

    def expired(self) -> bool:
        return self.remaining() == 0.0

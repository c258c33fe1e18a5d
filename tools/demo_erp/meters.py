"""What the demo ERP measures and enforces. Used from one asyncio event loop, so no locks."""

from collections import deque
from dataclasses import dataclass, field


@dataclass
class ConcurrencyGauge:
    """Requests in flight, the most ever seen at once (counting the arriving request), and the time integral
    of requests in flight (request-seconds)."""

    current: int = 0
    highest: int = 0
    request_seconds: float = 0.0
    _changed_at: float = 0.0

    def would_be(self) -> int:
        return self.current + 1

    def observe_arrival(self) -> None:
        self.highest = max(self.highest, self.would_be())

    def enter(self, now: float) -> None:
        self._integrate(now)
        self.current += 1

    def leave(self, now: float) -> None:
        self._integrate(now)
        self.current -= 1

    def _integrate(self, now: float) -> None:
        self.request_seconds += self.current * (now - self._changed_at)
        self._changed_at = now


@dataclass
class SlidingWindowRate:
    """Arrivals in the last `window` seconds; the highest count any window held."""

    window: float = 1.0
    highest: int = 0
    _arrivals: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> None:
        self._arrivals.append(now)
        while self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
        self.highest = max(self.highest, len(self._arrivals))


@dataclass
class TokenBucket:
    """`burst` tokens, refilled at `rate` per second: over any T seconds at most burst + rate * T pass.

    The same contract as a Prefect global limit with `slot_decay_per_second`, so a client that holds Prefect's
    rate limit never trips this bucket (except by transport jitter, which the runtime leaves headroom for).
    """

    rate: float
    burst: int
    _tokens: float = -1.0
    _updated: float = 0.0

    def try_take(self, now: float) -> bool:
        if self._tokens < 0:
            self._tokens = float(self.burst)
        else:
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

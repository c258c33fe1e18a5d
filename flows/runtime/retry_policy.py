"""When to try an external call again: exponential backoff with full jitter, never sooner than Retry-After."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 10.0
    # Spread of the wait a service asked for: many callers told "1 s" must not all return at 1.000 s.
    retry_after_spread: float = 0.2

    def delay(self, failed_attempts: int, retry_after_seconds: float | None) -> float:
        """Seconds to wait after `failed_attempts` (>= 1) failures."""
        backoff = random.uniform(
            0, min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (failed_attempts - 1))
        )
        if retry_after_seconds is None:
            return backoff
        return max(backoff, retry_after_seconds * (1 + random.uniform(0, self.retry_after_spread)))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

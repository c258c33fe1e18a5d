"""Backoff with full jitter, and never sooner than the service asked (both forms of Retry-After)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from flows.runtime.retry_policy import RetryPolicy, parse_retry_after


def test_backoff_grows_exponentially_under_its_cap():
    policy = RetryPolicy(base_delay_seconds=0.1, max_delay_seconds=1.0)
    for failures, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)):
        delays = [policy.delay(failures, None) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jittered across the range, not pinned to its floor


def test_retry_after_is_a_floor():
    policy = RetryPolicy(base_delay_seconds=0.1, retry_after_spread=0.2)
    delays = [policy.delay(1, 3.0) for _ in range(200)]
    assert all(3.0 <= delay <= 3.6 for delay in delays)


def test_retry_after_in_seconds_or_as_an_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    in_ten_seconds = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 < (parse_retry_after(in_ten_seconds) or 0) <= 10
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None

"""The demo ERP's gatekeeper on a manual clock: its token bucket is exact, not subject to the test's timing."""

from tests.support.manual_clock import ManualClock
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.gatekeeper import Gatekeeper


def test_the_rate_bucket_admits_its_burst_then_the_rate() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(
        ErpBehaviour(rate_per_second=4.0, rate_burst=2, retry_after_seconds=1), clock=clock
    )
    admitted = []
    for _ in range(40):  # 10 s of arrivals every 0.25 s, each finished at once
        for _ in range(2):
            rejection = gatekeeper.admit(None)
            admitted.append(rejection is None)
            if rejection is None:
                gatekeeper.finish(arrived_at=clock.monotonic())
        clock.advance(0.25)
    # Two each 0.25 s asked, one each 0.25 s refilled: the burst and then exactly the rate.
    assert sum(admitted) == 2 + 39
    assert gatekeeper.stats.rejected_for_rate == 80 - 41


def test_an_early_retry_is_counted_by_the_gatekeeper_clock() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(ErpBehaviour(max_concurrency=1, retry_after_seconds=2), clock=clock)
    assert gatekeeper.admit("a") is None
    assert gatekeeper.admit("b") is not None  # told to come back in 2 s
    clock.advance(1.5)
    gatekeeper.admit("b")
    assert gatekeeper.stats.early_retries == 1
    assert gatekeeper.admit("c") is not None
    clock.advance(2.0)
    gatekeeper.finish(arrived_at=clock.monotonic() - 3.5)
    gatekeeper.admit("c")
    assert gatekeeper.stats.early_retries == 1
    assert gatekeeper.stats.request_seconds == 3.5

"""The load test's account of runs queued behind their deployment's limit, and of the ERP's idle time, from
made-up moments (the real ones: tests/loadtest/test_through_deployments.py)."""

import pytest

from tools.demo_erp.timeline import ErpTimeline, TimelineBucket
from tools.loadtest.handovers import RunTimes, handovers
from tools.loadtest.measure import idle_seconds


def run(name: str, waits: list[tuple[float, float]], taken: float, ended: float) -> RunTimes:
    return RunTimes(
        flow_run_id=name, waits=waits, slot_taken=taken, started=taken + 4, ended=ended, first_call=taken + 5
    )


def test_each_queued_run_is_timed_from_the_end_of_the_run_whose_slot_it_took() -> None:
    first = run("a", [], taken=0, ended=10)
    second = run("b", [(0, 1), (5, 6)], taken=10.5, ended=20)
    third = run("c", [(0, 1), (19, 20)], taken=21, ended=30)
    found = handovers([third, first, second])
    assert [(h.flow_run_id, h.after_flow_run_id, h.waits) for h in found] == [("c", "b", 2), ("b", "a", 2)]
    c, b = found
    assert (b.retry_after_seconds, b.to_slot_seconds, b.to_start_seconds, b.to_first_call_seconds) == (
        1,
        0.5,
        4.5,
        5.5,
    )
    assert c.to_slot_seconds == pytest.approx(1)


def test_a_run_that_never_waited_or_took_a_slot_no_run_freed_is_no_handover() -> None:
    # Two runs admitted at once; a third that waited, then took a slot before either ended (a limit of 3).
    runs = [run("a", [], 0, 10), run("b", [], 0, 12), run("c", [(0, 1)], taken=2, ended=14)]
    assert handovers(runs) == []


def test_idle_time_is_the_stretches_of_a_second_or_more_with_nothing_in_flight() -> None:
    busy = [1, 0, 0, 0, 0, 0, 2, 0, 0, 1]  # 1.25 s with nothing in flight, then 0.5 s: a pause between calls
    buckets = [TimelineBucket(start=i * 0.25, highest_concurrency=n) for i, n in enumerate(busy)]
    timeline = ErpTimeline(
        bucket_seconds=0.25, buckets=buckets, completed=4, latency_p50_seconds=None, latency_p95_seconds=None
    )
    assert idle_seconds(timeline) == 1.25

"""The load proof's account of where the rate went, on made-up figures: what the ERP's timeline records per
caller and interval, the line a rate limiter logs, and the phases and causes computed from them."""

from flows.runtime.rate_limiter import TokenCounts
from tests.loadproof.breakdown import CallingRun, Limits, breakdown
from tests.loadproof.limit_samples import LimitSample
from tools.demo_erp.timeline import TimelineRecorder


def test_the_erps_timeline_keeps_each_caller_and_the_calls_in_flight_per_interval() -> None:
    recorder = TimelineRecorder(bucket_seconds=1.0)
    recorder.arrival(100.5, in_flight=0, accepted=True, caller="run-1")
    recorder.arrival(101.0, in_flight=1, accepted=True, caller="run-2")
    recorder.arrival(101.2, in_flight=2, accepted=False, caller="run-2")  # refused: not in flight
    recorder.completion(102.5, in_flight=1, latency_seconds=2.0, caller="run-1")
    recorder.completion(103.0, in_flight=0, latency_seconds=2.0, caller="run-2")
    timeline = recorder.snapshot()
    assert [bucket.in_flight_seconds for bucket in timeline.buckets] == [0.5, 2.0, 1.5, 0.0]
    assert timeline.callers["run-1"].first_arrival == 100.5
    assert timeline.callers["run-1"].last_completion == 102.5
    assert timeline.callers["run-2"].accepted == 1


def test_a_rate_limiters_line_reads_back_as_its_counts() -> None:
    counts = TokenCounts("dev-erp-api-rate", 120, 110, 4, 9, 1, 2)
    assert TokenCounts.from_line(f"Finished: {counts.line()}") == counts
    assert TokenCounts.from_line("rate limiter dev-erp-api-rate: Prefect API call failed") is None


def test_the_breakdown_splits_the_busy_span_into_phases_and_their_causes() -> None:
    # Two runs at 10 calls/s each against a rate of 40/s: run a from 0 s, run b from 2 s to 6 s, a until 8 s.
    recorder = TimelineRecorder(bucket_seconds=1.0)
    for caller, start, end in (("a", 0.0, 8.0), ("b", 2.0, 6.0)):
        at = start
        while at < end - 0.05:
            recorder.arrival(at, in_flight=0, accepted=True, caller=caller)
            recorder.completion(at + 0.05, in_flight=0, latency_seconds=0.05, caller=caller)
            at += 0.1
    samples = [LimitSample(at=float(t), held=4, bucket=10) for t in range(9)]
    runs = [
        CallingRun(
            "a", started=-1.0, chunks=[(0.0, 3.0), (3.5, 8.0)], tokens=TokenCounts("r", 82, 80, 2, 4, 0, 1)
        ),
        CallingRun("b", started=1.0, chunks=[(2.0, 6.0)], tokens=TokenCounts("r", 40, 40, 0, 2, 0, 0)),
    ]
    figures = breakdown(
        recorder.snapshot(), samples, runs, Limits(concurrency=10, rate_per_second=40, burst=40)
    )

    phases = figures["phases"]
    assert phases["until_every_run_calls"]["seconds"] == 2.0
    assert phases["until_every_run_calls"]["calls"] == 20
    assert phases["until_every_run_calls"]["calls_short_of_the_rate"] == 60
    assert abs(phases["every_run_calling"]["calls_per_second"] - 20.0) <= 0.5  # 1-s intervals, split
    assert abs(phases["tail_after_first_run_done"]["calls"] - 20) <= 1
    every = phases["every_run_calling"]
    assert every["slots"] == {"in_calls": 1.0, "held_not_in_calls": 3.0, "free_at_server": 6.0}
    assert every["rate_bucket_fill"] == 0.25
    run_a = figures["runs"][0]
    assert run_a["start_to_first_call_seconds"] == 1.0
    assert (run_a["chunks"], run_a["gaps_between_chunks"], run_a["seconds_between_chunks"]) == (2, 1, 0.5)
    assert figures["tokens"]["granted"] == 122 and figures["tokens"]["granted_per_spent"] == round(
        122 / 120, 3
    )
    assert figures["erp_refusals"] == 0

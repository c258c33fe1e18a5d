"""A schedule changes the demo ERP's limits at given times on the gatekeeper's clock (a manual one here: the
steps apply exactly when due, whatever the machine's speed), and the timeline records every change."""

import httpx
import pytest

from tests.support.manual_clock import ManualClock
from tests.unit.test_demo_erp_capacity import run_on_own_loop
from tools.demo_erp.app import create_app
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.gatekeeper import Gatekeeper
from tools.demo_erp.schedule import BehaviourSchedule, BehaviourStep, parse_step
from tools.demo_erp.timeline import TimelineRecorder

CAP_10 = ErpBehaviour(latency_seconds=0.1, max_concurrency=10)
CAP_4 = ErpBehaviour(latency_seconds=0.1, max_concurrency=4)


def _capacity_drop(start_at: float) -> BehaviourSchedule:
    """429 cap 10 for 20 s, 4 for 20 s, then 10 again."""
    return BehaviourSchedule(
        start_at=start_at,
        steps=[
            BehaviourStep(after_seconds=0, behaviour=CAP_10),
            BehaviourStep(after_seconds=20, behaviour=CAP_4),
            BehaviourStep(after_seconds=40, behaviour=CAP_10),
        ],
    )


def _admitted_of(gatekeeper: Gatekeeper, asked: int) -> int:
    """Ask for `asked` calls at once, finish those admitted: how many the ERP took."""
    admitted = sum(gatekeeper.admit(None) is None for _ in range(asked))
    for _ in range(admitted):
        gatekeeper.finish()
    return admitted


def test_the_429_cap_follows_the_schedule_step_by_step() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(ErpBehaviour(), clock=clock)
    start = clock.now().timestamp() + 5
    gatekeeper.start_schedule(_capacity_drop(start))
    assert _admitted_of(gatekeeper, 12) == 12  # before the start: the behaviour it had
    admitted = []
    for second in (5, 24.9, 25, 44.9, 45, 100):
        clock.advance_to(1000.0 + second)
        admitted.append(_admitted_of(gatekeeper, 12))
    assert admitted == [10, 10, 4, 4, 10, 10]
    changes = gatekeeper.timeline.snapshot().changes
    assert [(round(c.at - start, 6), c.max_concurrency) for c in changes[1:]] == [
        (0.0, 10),
        (20.0, 4),
        (40.0, 10),
    ]


def test_a_step_applies_on_time_without_traffic_and_steps_overdue_apply_in_order() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(ErpBehaviour(), clock=clock)
    start = clock.now().timestamp()
    gatekeeper.start_schedule(_capacity_drop(start - 30))  # started 30 s ago: two steps due at once
    assert gatekeeper.behaviour == CAP_4
    assert [c.max_concurrency for c in gatekeeper.timeline.snapshot().changes] == [None, 10, 4]
    clock.advance(10)
    gatekeeper.apply_due()  # what the app's ticker does between requests
    assert gatekeeper.behaviour == CAP_10


def test_setting_a_behaviour_ends_the_schedule() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(ErpBehaviour(), clock=clock)
    gatekeeper.start_schedule(_capacity_drop(clock.now().timestamp()))
    gatekeeper.configure(ErpBehaviour(max_concurrency=2))
    clock.advance(25)
    assert _admitted_of(gatekeeper, 5) == 2


def test_a_reset_keeps_the_schedule_and_starts_the_timeline_with_the_behaviour_in_force() -> None:
    clock = ManualClock()
    gatekeeper = Gatekeeper(ErpBehaviour(), clock=clock)
    start = clock.now().timestamp()
    gatekeeper.start_schedule(_capacity_drop(start))
    clock.advance(21)
    gatekeeper.reset()
    changes = gatekeeper.timeline.snapshot().changes
    assert [(round(c.at - start, 6), c.max_concurrency) for c in changes] == [(21.0, 4)]
    clock.advance(20)
    assert _admitted_of(gatekeeper, 12) == 10


def test_steps_are_parsed_from_the_command_line_on_top_of_the_behaviour_before() -> None:
    step = parse_step("20:max_concurrency=4,capacity=3", CAP_10)
    assert step.after_seconds == 20
    assert step.behaviour == ErpBehaviour(latency_seconds=0.1, max_concurrency=4, capacity=3)
    assert parse_step("5:max_concurrency=none", step.behaviour).behaviour.max_concurrency is None
    with pytest.raises(ValueError, match="no such behaviour field"):
        parse_step("5:capacty=3", CAP_10)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        parse_step("5:capacity=0", CAP_10)


def test_the_timeline_holds_latency_per_interval_and_over_any_span() -> None:
    recorder = TimelineRecorder(bucket_seconds=1.0)
    for index, latency in enumerate([0.1, 0.1, 0.3, 0.5]):
        recorder.arrival(100.0 + index, in_flight=0, accepted=True)
        recorder.completion(100.2 + index + (index > 1) * 0.5, in_flight=0, latency_seconds=latency)
    buckets = recorder.snapshot().buckets
    assert [bucket.latency_p95_seconds for bucket in buckets] == [0.1, 0.1, 0.3, 0.5]
    assert [bucket.latency_mean_seconds for bucket in buckets] == [0.1, 0.1, 0.3, 0.5]
    summary = recorder.latencies_between(101.0, 103.0)  # answered at 101.2 and 102.7
    assert (summary.count, summary.p95_seconds, summary.max_seconds) == (2, 0.3, 0.3)
    assert recorder.latencies_between(200.0, 300.0).p95_seconds is None


def test_a_schedule_is_set_over_http() -> None:
    async def scenario() -> None:
        transport = httpx.ASGITransport(app=create_app(ErpBehaviour()))
        async with httpx.AsyncClient(transport=transport, base_url="http://erp") as client:
            schedule = _capacity_drop(start_at=0.0)  # long past: every step is due
            answer = await client.put("/_admin/schedule", json=schedule.model_dump())
            assert answer.status_code == 200 and answer.json()["max_concurrency"] == 10
            bad = await client.put("/_admin/schedule", json={"start_at": 0, "steps": [{"after_seconds": -1}]})
            assert bad.status_code == 422

    run_on_own_loop(scenario())

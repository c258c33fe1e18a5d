"""The adaptive limit against a modelled service, in rounds: each round the run starts as many calls as its
target permits (it always has more work), the service answers them (429s at once, the others after their
latency), and the round lasts as long as its slowest answer, on a manual clock. No thread, no real time: the
outcomes depend on the algorithm alone."""

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from flows.runtime.adaptive_limit import AdaptiveCall, AdaptiveLimit, AdaptivePolicy, TargetChange
from flows.runtime.deadline import Deadline
from flows.runtime.errors import SlotWaitTimeout
from tests.support.manual_clock import ManualClock

BASE_SECONDS = 0.1


@dataclass
class Service:
    """At most `capacity` calls at once. `refuses`: the others get 429 (a cap); else they wait in line, first
    come first served (a server with that many workers)."""

    capacity: int
    refuses: bool = True
    highest_in_flight: int = 0
    refused: int = 0
    served: int = 0

    def answer(self, calls: list[AdaptiveCall]) -> float:
        """The round's length: its slowest answer."""
        self.highest_in_flight = max(self.highest_in_flight, len(calls))
        if self.refuses:
            for call in calls[self.capacity :]:
                call.overloaded("429")  # refused at once: before any answer comes back
            for call in calls[: self.capacity]:
                call.answered(BASE_SECONDS)
            self.served += min(len(calls), self.capacity)
            self.refused += max(0, len(calls) - self.capacity)
            return BASE_SECONDS
        for index, call in enumerate(calls):
            call.answered(BASE_SECONDS * (1 + index // self.capacity))
        self.served += len(calls)
        return BASE_SECONDS * (1 + (len(calls) - 1) // self.capacity) if calls else BASE_SECONDS


@dataclass
class Run:
    limit: AdaptiveLimit
    clock: ManualClock
    targets: list[int] = field(default_factory=list)

    def rounds(self, service: Service, count: int) -> None:
        for _ in range(count):
            with ExitStack() as held:
                calls = []
                while self.limit.in_flight < self.limit.target:
                    calls.append(held.enter_context(self.limit.permit(Deadline.after(1.0, self.clock))))
                self.clock.advance(service.answer(calls))
            self.targets.append(self.limit.target)


def adaptive(
    floor: int = 1, ceiling: int = 10, on_change: Callable[[TargetChange], None] = lambda change: None
) -> Run:
    clock = ManualClock()
    policy = AdaptivePolicy(floor=floor, ceiling=ceiling)
    return Run(AdaptiveLimit("erp", policy, clock=clock, on_change=on_change), clock)


def test_starts_at_the_ceiling_and_never_exceeds_it() -> None:
    run = adaptive(ceiling=10)
    service = Service(capacity=50)
    run.rounds(service, 100)
    assert run.targets == [10] * 100
    assert service.highest_in_flight == 10
    with ExitStack() as held:
        for _ in range(10):
            held.enter_context(run.limit.permit(Deadline.after(1.0, run.clock)))
        with pytest.raises(SlotWaitTimeout, match=r"erp \(adaptive\).*target is 10"):
            held.enter_context(run.limit.permit(Deadline.after(0.0, run.clock)))


def test_converges_below_a_lowered_cap_then_climbs_back_after_recovery() -> None:
    run = adaptive(ceiling=10)
    service = Service(capacity=10)
    run.rounds(service, 10)
    service.capacity = 4
    service.refused = service.served = 0
    run.rounds(service, 60)
    settled = run.targets[-50:]
    assert max(settled) <= 5  # the cap plus one: additive increase probes just past it, then backs off
    assert sum(settled) / len(settled) >= 3.5
    assert service.served / 60 >= 3.5  # most of the cap used
    assert service.refused <= 0.1 * service.served  # fixed at 10, it would refuse 6 of every 10

    service.capacity = 10
    run.rounds(service, 20)
    assert run.targets[-1] == 10
    # One step per round, but the step to where it was refused waits for 4 calm rounds: back within 12.
    assert run.targets[-20:].index(10) <= 12


def test_a_queueing_service_is_held_near_its_capacity_by_latency_alone() -> None:
    run = adaptive(ceiling=16)
    service = Service(capacity=4, refuses=False)
    run.rounds(service, 40)
    settled = run.targets[-20:]
    # Vegas on the median: about `allowed_queue` (2) calls waiting inside the service, and the steps that probe.
    assert max(settled) <= 4 + 2 + 2
    assert min(settled) >= 4  # never below what the service serves at once: no throughput lost
    assert service.refused == 0


def test_calls_in_flight_when_the_target_fell_do_not_lower_it_again() -> None:
    changes: list[TargetChange] = []
    run = adaptive(ceiling=10, on_change=changes.append)
    run.rounds(Service(capacity=0), 1)  # all ten refused, by the same overload
    assert run.limit.target == 7
    assert [(c.previous, c.target, c.reason) for c in changes] == [(10, 7, "429")]


def test_the_floor_holds_while_everything_is_refused() -> None:
    run = adaptive(floor=2, ceiling=10)
    run.rounds(Service(capacity=0), 20)
    assert run.targets[-10:] == [2] * 10


def test_a_run_that_does_not_use_its_target_does_not_raise_it() -> None:
    run = adaptive(ceiling=10)
    run.rounds(Service(capacity=0), 2)
    assert run.limit.target == 4
    for _ in range(30):  # one call at a time: the target never held a call back
        with run.limit.permit(Deadline.after(1.0, run.clock)) as call:
            call.answered(BASE_SECONDS)
    assert run.limit.target == 4


def test_a_timeout_lowers_the_target_like_a_429() -> None:
    changes: list[TargetChange] = []
    run = adaptive(ceiling=10, on_change=changes.append)
    with run.limit.permit(Deadline.after(1.0, run.clock)) as call:
        call.overloaded("timeout")
    assert [(c.target, c.reason) for c in changes] == [(7, "timeout")]


def test_a_waiting_call_gets_the_permit_given_back() -> None:
    clock = ManualClock()
    limit = AdaptiveLimit("erp", AdaptivePolicy(floor=1, ceiling=1), clock=clock)
    got: list[bool] = []
    with ExitStack() as held:
        held.enter_context(limit.permit(Deadline.after(10.0, clock)))

        def wait_for_permit() -> None:
            with limit.permit(Deadline.after(10.0, clock)):
                got.append(True)

        waiter = threading.Thread(target=wait_for_permit)
        waiter.start()
        clock.settle([waiter])
        assert not got
    waiter.join(5.0)
    assert got == [True]


def test_a_floor_above_the_ceiling_is_refused() -> None:
    with pytest.raises(ValueError, match="floor 5 not from 1 to the ceiling 4"):
        AdaptivePolicy(floor=5, ceiling=4)


def test_a_429_that_comes_back_at_once_after_a_decrease_waits_for_a_round_trip() -> None:
    run = adaptive(ceiling=10)
    run.rounds(Service(capacity=50), 3)  # answers in 0.1 s: the round trip
    deadline = Deadline.after(1.0, run.clock)
    with run.limit.permit(deadline) as call:
        call.overloaded("429")
    assert run.limit.target == 7
    with run.limit.permit(deadline) as sent_since:  # sent after the decrease, refused at once
        sent_since.overloaded("429")
    assert run.limit.target == 7  # the same overload: the answers to the calls sent since are not back yet
    run.clock.advance(BASE_SECONDS)
    with run.limit.permit(deadline) as a_round_trip_later:
        a_round_trip_later.overloaded("429")
    assert run.limit.target == 4

"""The adaptive benchmark's times to adapt, from an ERP timeline written by hand: when the 429s stop after the
drop (a settled window, not the last probe), when the calls in flight climb back after the recovery."""

from tests.bench.adaptive_measure import TimelinePoint, _adapted_after, _reaches
from tests.bench.adaptive_scenario import CapacityMode, Scenario

BUCKET = 0.25
SCENARIO = Scenario(
    high=10, low=4, phase_seconds=(5.0, 5.0, 5.0), latency_seconds=0.1, mode=CapacityMode.REFUSE
)


def _timeline(rejected_until: float, admitted_until: float, probe_at: float) -> list[TimelinePoint]:
    """Capacity drops at 5 s: 429s come until `rejected_until` (and one probe at `probe_at`), calls admitted
    above the low capacity until `admitted_until` (those already in flight), 9 admitted again from 11 s."""
    points = []
    for index in range(60):
        t = index * BUCKET
        rejected = 5 if 5.0 <= t < rejected_until else int(t == probe_at)
        admitted = 10 if t < admitted_until else (9 if t >= 11.0 else 4)
        points.append(
            TimelinePoint(t=t, asked=admitted + rejected, admitted=admitted, accepted=5, rejected=rejected)
        )
    return points


def test_the_drop_is_adapted_to_at_the_first_settled_window_despite_a_later_probe() -> None:
    dropped = SCENARIO.phases[1]
    points = _timeline(rejected_until=7.0, admitted_until=5.25, probe_at=8.0)
    assert _adapted_after(points, dropped, SCENARIO, BUCKET) == 2.0


def test_calls_in_flight_above_the_dropped_capacity_are_not_adapted() -> None:
    dropped = SCENARIO.phases[1]
    points = _timeline(rejected_until=5.0, admitted_until=6.5, probe_at=-1)
    assert _adapted_after(points, dropped, SCENARIO, BUCKET) == 1.5


def test_a_limiter_that_keeps_overshooting_never_adapts_and_recovery_is_timed() -> None:
    dropped, recovered = SCENARIO.phases[1], SCENARIO.phases[2]
    points = _timeline(rejected_until=10.0, admitted_until=5.0, probe_at=-1)
    assert _adapted_after(points, dropped, SCENARIO, BUCKET) is None
    assert _reaches(points, recovered, 9) == 1.0
    assert _reaches(points, recovered, 11) is None

"""What bench-handover reports: slots passing between flow runs and what each left idle, and targets judged
on the median of rounds."""

from tests.bench.handover import Target, _over_rounds
from tests.bench.metrics import handovers


def test_a_call_of_another_run_taking_a_freed_slot_is_a_handover_with_its_gap() -> None:
    first = [(0.0, 1.0), (1.0, 2.0)]  # keeps its slot: 1.0 is its own call's end
    second = [(0.0, 1.0), (1.2, 2.0)]  # the slot freed at 1.0 goes to... itself, 0.2 s later
    third = [(2.1, 3.0)]  # the slot freed at 2.0 by the first goes to the third, 0.1 s later
    found = handovers([first, second, third])
    assert found["count"] == 1
    assert found["idle_slot_seconds"] == 0.1
    assert found["median_gap_ms"] == 100


def test_one_run_alone_hands_nothing_over() -> None:
    assert handovers([[(0.0, 0.5), (0.6, 1.0)]])["count"] == 0


def test_a_target_is_judged_on_its_median_over_the_rounds() -> None:
    rounds = [{"pair": Target(value, 1.05, at_least=False)} for value in (1.02, 1.09, 1.04)]
    judged = _over_rounds(rounds)["pair"]
    assert judged["value"] == 1.04  # one slow round of three does not miss it...
    assert judged["met"] is True
    assert judged["rounds"] == [1.02, 1.09, 1.04]  # ...and stays in sight
    assert (
        _over_rounds([{"six": Target(v, 0.92, at_least=True)} for v in (0.93, 0.90, 0.91)])["six"]["met"]
        is False
    )

"""The hand-over count the bench reports: slots passing between flow runs, and what each left idle."""

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

"""A batch of items in chunks, on the real server: each item's outcome counted, and a chunk whose task
crashed counting every item of it as failed."""

from prefect import flow, task

from flows.outcomes import Outcomes
from flows.runtime.item_chunks import ItemOutcome, chunked


@task
def reconcile(items: list[int]) -> list[ItemOutcome[int]]:
    if 13 in items:
        raise RuntimeError("the chunk crashed")
    return [
        ItemOutcome(str(i), 0.0, 0.0, result=i) if i % 5 else ItemOutcome(str(i), 0.0, 0.0, error="no")
        for i in items
    ]


@flow
def batch(items: list[int]) -> Outcomes[int]:
    chunks = chunked(items, 4)
    return Outcomes.of_chunks(reconcile.map(chunks), chunks)


def test_outcomes_of_chunks_count_items_and_a_crashed_chunk_fails_all_of_its_items(prefect_server) -> None:
    outcomes = batch(list(range(1, 17)))  # chunks 1-4, 5-8, 9-12, 13-16 (13 crashes it)
    assert outcomes.succeeded == [1, 2, 3, 4, 6, 7, 8, 9, 11, 12]
    assert outcomes.failures[:2] == ["5: no", "10: no"]
    assert outcomes.failures[2:] == ["(its chunk failed) RuntimeError: the chunk crashed"] * 4

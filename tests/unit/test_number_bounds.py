"""Every number in a stack file is bounded by what stores or carries it (infra/prefect_resources/bounds.py,
infra/docker_rules.py): refused before anything is sent, at its key, with the bound. The largest value
allowed is accepted; the next one is not."""

from typing import Any

import pytest

from infra.prefect_resources.bounds import MAX_EXACT_NUMBER, MAX_STORED_INT
from infra.stack_files.settings import MAX_REPLICAS
from infra.stack_files.stack_config import parse_stack_settings
from tests.unit.test_settings import SOURCE, edited, problems_for

CASES = [
    ("platform.pools.0.concurrencyLimit", MAX_STORED_INT, 2**63, "platform.pools[0].concurrencyLimit"),
    ("platform.queues.0.concurrencyLimit", MAX_STORED_INT, 2**31, "platform.queues[0].concurrencyLimit"),
    ("platform.queues.0.priority", MAX_STORED_INT, 2**31, "platform.queues[0].priority"),
    ("platform.concurrencyLimits.0.limit", MAX_STORED_INT, 2**64, "platform.concurrencyLimits[0].limit"),
    (
        "platform.concurrencyLimits.1.slotDecayPerSecond",
        float(MAX_STORED_INT),
        1e19,
        "platform.concurrencyLimits[1].slotDecayPerSecond",
    ),
    ("platform.tagLimits.erp", MAX_STORED_INT, 2**31, "platform.tagLimits.erp"),
    ("platform.workers.0.limit", MAX_STORED_INT, 2**31, "platform.workers[0].limit"),
    ("platform.workers.0.pollSeconds", 3600, 3601, "platform.workers[0].pollSeconds"),
    ("platform.workers.0.memLimit", "8589934591g", "8589934592g", "platform.workers[0].memLimit"),
    ("platform.workers.0.memLimit", "6m", "6143k", "platform.workers[0].memLimit"),
    (
        "platform.pools.0.jobDefaults.memLimit",
        "6m",
        "1k",
        "platform.pools[0].jobDefaults.memLimit",
    ),
    (
        "platform.variables.rpa3_batch",
        MAX_EXACT_NUMBER,
        MAX_EXACT_NUMBER + 1,
        "platform.variables.rpa3_batch",
    ),
    (
        "platform.variables.rpa3_batch",
        {"a": [1.5]},
        {"a": [float("inf")]},
        "platform.variables.rpa3_batch.a[0]",
    ),
    ("prefectApiUrl", "http://127.0.0.1:65535/api", "http://127.0.0.1:65536/api", "prefectApiUrl"),
]


@pytest.mark.parametrize(("path", "largest", "beyond", "key"), CASES, ids=[f"{c[0]}={c[2]}" for c in CASES])
def test_the_bound_is_accepted_and_beyond_it_is_refused(
    path: str, largest: Any, beyond: Any, key: str
) -> None:
    parse_stack_settings("prod", SOURCE, edited(path, largest))
    problems = problems_for(edited(path, beyond))
    assert list(problems) == [key], problems


def test_replicas_of_a_worker_entry_are_bounded() -> None:
    parse_stack_settings("prod", SOURCE, edited("platform.workers.0.replicas", MAX_REPLICAS))
    problems = problems_for(edited("platform.workers.0.replicas", MAX_REPLICAS + 1))
    assert f"less than or equal to {MAX_REPLICAS}" in problems["platform.workers[0].replicas"]


def test_a_limit_above_int64_is_refused_before_anything_is_sent() -> None:
    """The finding: 2**63 passed validation, and `up` created part of the stack before an HTTP 500."""
    reason = problems_for(edited("platform.concurrencyLimits.0.limit", 2**63))[
        "platform.concurrencyLimits[0].limit"
    ]
    assert f"less than or equal to {MAX_STORED_INT}" in reason

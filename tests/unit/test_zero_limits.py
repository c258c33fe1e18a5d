"""A limit of 0 stops everything it guards: the stack's validation refuses it where the policy pack does, with
the policy's own rule and words (infra/policies/rules.py), before anything is sent."""

from typing import Any

import pytest

from infra.policies import rules
from infra.stack_files.stack_config import parse_stack_settings
from tests.unit.test_settings import SOURCE, edited, problems_for


def with_zero(path: str, **others: Any) -> dict[str, Any]:
    raw = edited(path, 0)
    parent = raw
    for part in path.split(".")[:-1]:
        parent = parent[int(part) if part.isdigit() else part]
    parent.update(others)
    return raw


@pytest.mark.parametrize(
    ("path", "key", "policy"),
    [
        (
            "platform.concurrencyLimits.2.limit",
            "platform.concurrencyLimits[2].limit",
            rules.no_zero_limit_unless_inactive(rules.GLOBAL_LIMIT, {"name": "prod-db-write", "limit": 0}),
        ),
        (
            "platform.pools.0.concurrencyLimit",
            "platform.pools[0].concurrencyLimit",
            rules.no_zero_limit_unless_inactive(
                rules.WORK_POOL, {"name": "prod-rpa-docker", "concurrencyLimit": 0}
            ),
        ),
        (
            "platform.queues.0.concurrencyLimit",
            "platform.queues[0].concurrencyLimit",
            rules.no_zero_limit_unless_inactive(
                rules.WORK_QUEUE, {"name": "critical", "concurrencyLimit": 0}
            ),
        ),
        (
            "platform.tagLimits.erp",
            "platform.tagLimits.erp",
            rules.no_zero_limit_unless_inactive(rules.TAG_LIMIT, {"tag": "prod-erp", "limit": 0}),
        ),
    ],
)
def test_an_active_zero_limit_is_refused_with_the_policys_words(
    path: str, key: str, policy: list[str]
) -> None:
    assert len(policy) == 1
    assert problems_for(edited(path, 0)) == {key: policy[0]}


@pytest.mark.parametrize(
    ("path", "switched_off"),
    [
        ("platform.concurrencyLimits.2.limit", {"active": False}),
        ("platform.pools.0.concurrencyLimit", {"paused": True}),
        ("platform.queues.0.concurrencyLimit", {"paused": True}),
    ],
)
def test_a_zero_limit_on_a_switched_off_object_is_accepted(path: str, switched_off: dict[str, Any]) -> None:
    parse_stack_settings("prod", SOURCE, with_zero(path, **switched_off))

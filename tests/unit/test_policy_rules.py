"""The policy rules on the resources the program really declares (under Pulumi's mocks, with the property
shapes the policy engine sees), and on crafted bad stacks. (The rule between stacks: test_check.py.)"""

import json
from typing import Any

import pytest

from infra.policies import rules
from infra.program.rpa_platform import RpaPlatform
from infra.stack_files.stack_config import STACKS, from_pulumi_config, stack_file
from tests.support.pulumi_program import pulumi_config_of, run_under_mocks


def declared(stack: str, edit: Any = None) -> list[rules.Resource]:
    config = pulumi_config_of(stack_file(stack))
    if edit:
        config = edit(config)
    inventory = run_under_mocks(
        stack, config, lambda: RpaPlatform("rpa-platform", from_pulumi_config()) and None
    )
    return [(resource.type, resource.inputs) for resource in inventory.resources]


def all_violations(resources: list[rules.Resource]) -> list[str]:
    found = rules.workers_target_pools_of_their_stack(resources) + rules.worker_capacity_reaches_pool_limit(
        resources
    )
    for resource_type, props in resources:
        found += rules.no_privileged_worker(resource_type, props) + rules.no_zero_limit_unless_inactive(
            resource_type, props
        )
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_pass_every_rule(stack: str) -> None:
    assert all_violations(declared(stack)) == []


def test_privileged_worker() -> None:
    resources = declared("dev")
    container_type, props = next(r for r in resources if r[0] == rules.CONTAINER)
    violations = rules.no_privileged_worker(container_type, {**props, "privileged": True})
    assert props["name"].startswith("dev-rpa-docker-worker-1-"), "the worker's name and its generation"
    assert violations == [
        f"container '{props['name']}' runs privileged: workers start flow runs through the mounted Docker "
        "socket and never need it"
    ]


def test_worker_polling_a_pool_its_stack_does_not_define() -> None:
    resources = declared("dev")
    edited = []
    for resource_type, props in resources:
        if resource_type == rules.CONTAINER:
            command = list(props["command"])
            command[command.index("--pool") + 1] = "prod-rpa-docker"
            props = {**props, "command": command}
        edited.append((resource_type, props))
    assert rules.workers_target_pools_of_their_stack(edited) == [
        "worker 'dev-rpa-docker-worker-1' polls pool 'prod-rpa-docker', which this stack does not define "
        "(pools: dev-rpa-docker)"
    ]


def test_worker_capacity_below_pool_limit() -> None:
    resources = declared(
        "prod",
        lambda c: {
            **c,
            "rpa-platform:platform": c["rpa-platform:platform"].replace('"replicas": 3', '"replicas": 2'),
        },
    )
    assert rules.worker_capacity_reaches_pool_limit(resources) == [
        "pool 'prod-rpa-docker' admits 15 concurrent flow runs but its workers start at most 10 (replicas x limit); "
        "add replicas or raise the worker limit"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_without_workers_passes_every_rule(stack: str) -> None:
    """Its pools are served by workers run elsewhere (or, here, by none yet): nothing to count them against."""

    def without_workers(config: dict) -> dict:
        platform = json.loads(config["rpa-platform:platform"])
        platform.pop("workers")
        return {**config, "rpa-platform:platform": json.dumps(platform)}

    resources = declared(stack, without_workers)
    assert not [props for kind, props in resources if kind == rules.CONTAINER]
    assert all_violations(resources) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (rules.GLOBAL_LIMIT, {"name": "dev-erp-api", "limit": 0.0, "active": True}, "set active: false"),
        (rules.TAG_LIMIT, {"tag": "dev-ocr", "limit": 0.0}, "remove the limit"),
        (rules.WORK_POOL, {"name": "dev-rpa-docker", "concurrencyLimit": 0.0}, "set paused: true"),
        (
            rules.WORK_QUEUE,
            {"name": "critical", "concurrencyLimit": 0.0, "paused": False},
            "set paused: true",
        ),
    ],
)
def test_zero_limits_only_when_switched_off(resource_type: str, props: dict[str, Any], expected: str) -> None:
    assert expected in rules.no_zero_limit_unless_inactive(resource_type, props)[0]
    switched_off = {**props, "active": False, "paused": True}
    if resource_type != rules.TAG_LIMIT:
        assert rules.no_zero_limit_unless_inactive(resource_type, switched_off) == []

"""prefect.yaml against the stack files: the shipped one agrees; a missing pool or queue, a misspelt key
Prefect would ignore, and deployments adding up past their pool's limit are named with stack and number."""

import copy
from typing import Any

from infra.stack_files.deployment_check import deployment_problems
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS, from_stack_file, stack_file
from infra.yaml_file import load_yaml

SHIPPED = [from_stack_file(stack_file(stack)) for stack in STACKS]


def shipped() -> dict[str, Any]:
    return load_yaml(PROJECT_ROOT / "prefect.yaml")


def problems(document: dict[str, Any]) -> list[str]:
    return deployment_problems(document, SHIPPED, "prefect.yaml")


def test_shipped_prefect_yaml_agrees_with_the_stacks() -> None:
    assert problems(shipped()) == []
    pools = {deployment["work_pool"]["name"] for deployment in shipped()["deployments"]}
    assert pools == {"dev-rpa-docker", "staging-rpa-docker", "prod-rpa-docker"}


def test_deployment_into_an_undefined_pool() -> None:
    document = shipped()
    document["deployments"][0]["work_pool"]["name"] = "dev-rpa-process"
    assert problems(document) == [
        "prefect.yaml: deployments[0] (rpa1/dev): work pool 'dev-rpa-process' is not defined by any stack "
        "(pools: dev-rpa-docker, staging-rpa-docker, prod-rpa-docker)"
    ]


def test_deployment_into_an_undefined_queue() -> None:
    document = shipped()
    document["deployments"][2]["work_pool"]["work_queue_name"] = "bulk"
    assert (
        "stack dev has no queue 'bulk' in pool dev-rpa-docker (queues: batch, critical, default)"
        in problems(document)[0]
    )


def test_keys_prefect_would_silently_ignore() -> None:
    document = shipped()
    deployment = document["deployments"][0]
    deployment["concurrency_options"] = deployment.pop("concurrency_limit")
    found = problems(document)
    assert any(
        "deployments[0].concurrency_options: unknown key, which Prefect would silently ignore" in p
        for p in found
    )
    assert any("concurrency_limit must be a number >= 1" in p for p in found)


def test_deployments_adding_up_past_the_pool_limit() -> None:
    document = copy.deepcopy(shipped())
    document["deployments"][8]["concurrency_limit"]["limit"] = 10
    assert problems(document) == [
        "prefect.yaml: stack prod: deployments into prod-rpa-docker may run 16 flow runs at once "
        "(rpa1/prod 5 + rpa2/prod 1 + rpa3/prod 10), above the pool's concurrencyLimit 15 in Pulumi.prod.yaml"
    ]


def test_a_deployment_that_is_not_a_mapping() -> None:
    document = shipped()
    document["deployments"].append("rpa1/dev")
    assert problems(document) == [
        "prefect.yaml: deployments[9]: must be a mapping (name, entrypoint, work_pool, ...)"
    ]
    assert problems({"deployments": {"rpa1": {}}}) == [
        "prefect.yaml: deployments must be a list of deployments"
    ]

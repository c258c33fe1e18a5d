"""Prefect's own rules on the resources' inputs, applied before anything is sent."""

import pytest
from pydantic import ValidationError

from infra.prefect_resources.resource import wire_properties
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitInputs
from infra.prefect_resources.work_pool import WorkPool, WorkPoolInputs
from infra.prefect_resources.work_queue import WorkQueueInputs


def reasons(model: type, props: dict) -> dict[str, str]:
    return {problem.property: problem.reason for problem in model.problems(props)}


def test_pool_names_reserved_by_prefect() -> None:
    assert (
        "must not start with 'prefect'"
        in reasons(WorkPoolInputs, {"name": "prefect-rpa", "type": "docker"})["name"]
    )


def test_pool_type_without_an_installed_worker() -> None:
    reason = reasons(WorkPoolInputs, {"name": "rpa", "type": "kubernetes"})["type"]
    assert "no worker for type 'kubernetes' is installed" in reason
    assert "docker" in reason and "process" in reason


def test_queue_and_tag_names_with_characters_prefect_refuses() -> None:
    assert "must not contain" in reasons(WorkQueueInputs, {"name": "a/b", "workPoolName": "p"})["name"]
    assert "must not contain" in reasons(TaskRunConcurrencyLimitInputs, {"tag": "a&b", "limit": 1})["tag"]


def test_resource_refuses_an_input_it_does_not_have() -> None:
    """(mypy refuses it too: the inputs model's constructor is typed.)"""
    with pytest.raises(ValidationError, match=r"concurency_limit\n  Extra inputs are not permitted"):
        WorkPool("pool", WorkPoolInputs(name="p", type="docker", concurency_limit=1))


def test_wire_properties_are_every_field_camel_case() -> None:
    inputs = WorkQueueInputs(name="critical", work_pool_name="dev-rpa-docker", concurrency_limit=5)
    assert wire_properties(inputs, {}) == {
        "adopt": None,  # only when asked for
        "declaredIn": None,
        "name": "critical",
        "workPoolName": "dev-rpa-docker",
        "concurrencyLimit": 5,
        "description": None,
        "paused": False,
    }
    assert wire_properties(inputs.model_copy(update={"adopt": True}), {})["adopt"] is True
    assert wire_properties(inputs, {"work_pool_name": "from-an-output"})["workPoolName"] == "from-an-output"
    with pytest.raises(TypeError, match="WorkQueueInputs has no field work_pool"):
        wire_properties(inputs, {"work_pool": "typo"})

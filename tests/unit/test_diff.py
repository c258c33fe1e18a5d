"""Diffs compare parsed values: what Pulumi sends (floats, reordered keys) is not a change; what Prefect can
update is an update; only identity fields replace; values unknown in a preview are changes."""

from typing import Any

from pulumi.output import Unknown

from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.variable import VariableProvider
from infra.prefect_resources.work_pool import WorkPoolProvider, default_base_job_template
from infra.prefect_resources.work_queue import WorkQueueProvider


def checked(provider: PrefectProvider, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    return result.inputs


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {key: floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [floats(item) for item in value]
    return value


def test_template_compared_as_json_not_text() -> None:
    provider = WorkPoolProvider()
    pool = checked(
        provider, {"name": "p", "type": "docker", "concurrencyLimit": 3, "jobDefaults": {"mem_limit": "2g"}}
    )
    wire = floats(reversed_keys(pool))
    assert provider.diff("id", pool, wire).changes is False


def test_variable_values_compared_structurally_and_whole_numbers_kept() -> None:
    provider = VariableProvider()
    variable = checked(
        provider, {"name": "production_rpa3_max_concurrent_tasks", "value": {"a": 15, "b": [1, 2]}}
    )
    assert provider.diff("id", variable, floats(reversed_keys(variable))).changes is False
    assert checked(provider, {"name": "v", "value": 15.0})["value"] == 15
    assert isinstance(checked(provider, {"name": "v", "value": 15.0})["value"], int)
    assert provider.diff("id", variable, {**variable, "value": {"a": 15, "b": [2, 1]}}).changes is True


def test_in_place_update_versus_replacement() -> None:
    provider = WorkPoolProvider()
    pool = checked(provider, {"name": "p", "type": "process", "concurrencyLimit": 3})
    resized = provider.diff(
        "id", pool, checked(provider, {"name": "p", "type": "process", "concurrencyLimit": 4})
    )
    assert (resized.changes, resized.replaces) == (True, [])
    retyped = provider.diff(
        "id", pool, checked(provider, {"name": "p", "type": "docker", "concurrencyLimit": 3})
    )
    assert (retyped.changes, retyped.replaces, retyped.delete_before_replace) == (True, ["type"], True)
    renamed = provider.diff(
        "id", pool, checked(provider, {"name": "q", "type": "process", "concurrencyLimit": 3})
    )
    assert (renamed.replaces, renamed.delete_before_replace) == (["name"], False)


def test_queue_moves_to_another_pool_by_replacement() -> None:
    provider = WorkQueueProvider()
    queue = checked(provider, {"name": "critical", "workPoolName": "a", "concurrencyLimit": 1})
    moved = provider.diff(
        "id", queue, checked(provider, {"name": "critical", "workPoolName": "b", "concurrencyLimit": 1})
    )
    assert moved.replaces == ["workPoolName"]


def test_adopt_alone_is_not_a_change() -> None:
    provider = GlobalConcurrencyLimitProvider()
    limit = checked(provider, {"name": "erp-api", "limit": 10})
    assert provider.diff("id", limit, {**limit, "adopt": True}).changes is False


def test_unknown_values_in_a_preview_are_changes() -> None:
    provider = WorkQueueProvider()
    queue = checked(provider, {"name": "critical", "workPoolName": "a", "concurrencyLimit": 1})
    news = {**queue, "workPoolName": Unknown()}
    assert provider.check({}, news).failures == []
    diff = provider.diff("id", queue, news)
    assert (diff.changes, diff.replaces) == (True, ["workPoolName"])


def test_state_from_another_provider_version_is_updated_in_place() -> None:
    """State this version cannot parse (a field renamed since) is compared field by field: the object keeps
    its name, so it is updated, never replaced into a name clash."""
    provider = GlobalConcurrencyLimitProvider()
    limit = checked(provider, {"name": "erp-api", "limit": 10})
    diff = provider.diff("id", {"name": "erp-api", "limitz": 1}, limit)
    assert (diff.changes, diff.replaces) == (True, [])


def test_docker_default_template_is_computed_locally() -> None:
    template = default_base_job_template("docker")
    assert template is not None
    assert "image" in template["variables"]["properties"]
    assert default_base_job_template("no-such-worker-type") is None


def test_every_input_model_refuses_unknown_properties() -> None:
    for model in ResourceInputs.__subclasses__():
        problems = model.problems({"nmae": "x"})
        assert any(p.property == "nmae" and p.reason == "unknown property" for p in problems), model

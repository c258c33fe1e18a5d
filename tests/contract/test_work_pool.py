"""Work-pool specifics: the template computed locally from the worker type, drift inside the template,
replacement when the type changes."""

from collections.abc import Callable

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate

from infra.prefect_resources.work_pool import WorkPoolProvider, default_base_job_template
from tests.support.provider_protocol import EngineStack

pytestmark = pytest.mark.usefixtures("prefect_server")

JOB_DEFAULTS = {
    "image": "rpa-platform/runtime:test",
    "image_pull_policy": "Never",
    "network_mode": "host",
    "env": {"RPA_STACK": "dev", "RPA_ENVIRONMENT": "development"},
    "mem_limit": "2g",
}


def docker_pool(unique: str) -> dict:
    return {
        "name": f"ct-{unique}-docker",
        "type": "docker",
        "concurrencyLimit": 4,
        "jobDefaults": JOB_DEFAULTS,
    }


def test_docker_pool_gets_the_worker_default_template_with_the_stack_job_defaults(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    stack = engine("WorkPool", WorkPoolProvider())
    stack.up(docker_pool(unique))

    template = client.read_work_pool(f"ct-{unique}-docker").base_job_template
    expected = default_base_job_template("docker")
    assert template["job_configuration"] == expected["job_configuration"]
    properties = template["variables"]["properties"]
    assert set(properties) == set(expected["variables"]["properties"])
    for variable, value in JOB_DEFAULTS.items():
        assert properties[variable]["default"] == value
    assert stack.up(docker_pool(unique)) == "same", (
        "the server's copy of the template must not read as a change"
    )


def test_edit_inside_the_template_is_drift_and_is_undone(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    stack = engine("WorkPool", WorkPoolProvider())
    stack.up(docker_pool(unique))
    name = f"ct-{unique}-docker"
    template = client.read_work_pool(name).base_job_template
    template["variables"]["properties"]["image"]["default"] = "someone/else:latest"
    client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))

    assert stack.refresh()
    assert (
        stack.preview_diff(docker_pool(unique)).changes == stack.preview_diff(docker_pool(unique)).DIFF_SOME
    )
    assert stack.up(docker_pool(unique)) == "update"
    restored = client.read_work_pool(name).base_job_template["variables"]["properties"]["image"]["default"]
    assert restored == JOB_DEFAULTS["image"]


def test_changing_the_type_replaces_the_pool_under_the_same_name(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    stack = engine("WorkPool", WorkPoolProvider())
    stack.up({"name": f"ct-{unique}-swap", "type": "process"})
    diff = stack.preview_diff({"name": f"ct-{unique}-swap", "type": "docker"})
    assert list(diff.replaces) == ["type"]
    assert diff.deleteBeforeReplace, "the new pool needs the name the old one holds"

    assert stack.up({"name": f"ct-{unique}-swap", "type": "docker"}) == "replace"
    assert client.read_work_pool(f"ct-{unique}-swap").type == "docker"


def test_renaming_creates_the_new_pool_before_deleting_the_old_one(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    stack = engine("WorkPool", WorkPoolProvider())
    stack.up({"name": f"ct-{unique}-old", "type": "process"})
    diff = stack.preview_diff({"name": f"ct-{unique}-new", "type": "process"})
    assert list(diff.replaces) == ["name"]
    assert not diff.deleteBeforeReplace

    assert stack.up({"name": f"ct-{unique}-new", "type": "process"}) == "replace"
    names = {pool.name for pool in client.read_work_pools()}
    assert f"ct-{unique}-new" in names
    assert f"ct-{unique}-old" not in names

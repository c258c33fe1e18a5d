"""The program for a stack with its own server, under Pulumi's mocks: PostgreSQL and the Prefect server as
pulumi-docker containers (host network, 127.0.0.1, health checks waited for, restart unless-stopped, named
volumes kept on destroy, the password only in secret envs), and every Prefect object after the server."""

import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import set_all_config
from pulumi.runtime.rpc import unwrap_rpc_secret
from pulumi.runtime.settings import get_monitor, reset_options

from infra import config_keys
from infra.program.rpa_platform import RpaPlatform
from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import STACKS, from_pulumi_config, stack_file
from tests.support.pulumi_program import CONTAINER, Inventory, in_clear, pulumi_config_of, run_under_mocks
from tests.support.self_hosted_stack import PASSWORD, STACK, example_config

VOLUME = "docker:index/volume:Volume"
SERVER = f"{STACK}-prefect-server"
DATABASE = f"{STACK}-prefect-postgres"


def declare(config: dict[str, str] | None = None) -> tuple[Inventory, dict[str, Any], dict[str, Any]]:
    """What the program declares for the example stack, each resource's registration as the engine receives
    it (its dependencies as URNs, its options) by name, and the platform's outputs."""
    requests: dict[str, Any] = {}
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output:
        record_registrations(requests)
        platform = RpaPlatform("rpa-platform", from_pulumi_config())
        return pulumi.Output.from_input(platform.outputs).apply(outputs.update)

    inventory = run_under_mocks(STACK, config or example_config(), program)
    return inventory, requests, outputs


def record_registrations(into: dict[str, Any]) -> None:
    """Wrap the mock monitor's RegisterResource so that each request (options the mocks drop) is kept."""
    monitor = get_monitor()
    register: Callable[[Any], Any] = monitor.RegisterResource

    def recording(request: Any) -> Any:
        into[request.name] = request
        return register(request)

    monitor.RegisterResource = recording


def containers(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in inventory.resources if r.type == CONTAINER}


def test_the_server_and_its_database_are_containers_on_the_host_network() -> None:
    inventory, _, outputs = declare()
    declared = containers(inventory)
    assert list(declared)[:2] == [DATABASE, SERVER]
    assert [name.rsplit("-", 1)[0] for name in list(declared)[2:]] == ["selfhosted-rpa-docker-worker-1"]
    database, server = declared[DATABASE], declared[SERVER]
    for inputs in (database, server):
        assert inputs["networkMode"] == "host"
        assert inputs["restart"] == "unless-stopped"
        assert inputs["mustRun"] is True
        assert inputs["wait"] is True, "up waits for the health check"
        assert inputs["healthcheck"]["tests"][0] == "CMD"
        assert not inputs.get("privileged")
    assert server["command"] == ["prefect", "server", "start", "--host", "127.0.0.1", "--port", "4300"]
    assert "import urllib.request" in server["healthcheck"]["tests"][3]
    assert "http://127.0.0.1:4300/api/health" in server["healthcheck"]["tests"][3]
    assert server["waitTimeout"] >= 120, "a first start migrates an empty database"
    assert database["command"] == ["postgres", "-c", "listen_addresses=127.0.0.1"]
    assert database["healthcheck"]["tests"][1:6] == ["pg_isready", "--host", "127.0.0.1", "--port", "15432"]
    assert server["image"] == "sha256:mock-rpa-platform/runtime:0.1.0"
    assert database["image"] == "sha256:mock-rpa-platform/postgres:15"
    assert outputs["serverContainers"] == [DATABASE, SERVER]
    assert outputs["prefectApiUrl"] == "http://127.0.0.1:4300/api"


def test_each_keeps_its_state_on_a_named_volume_that_destroy_leaves() -> None:
    inventory, requests, _ = declare()
    volumes = {r.name: r.inputs for r in inventory.of_type(VOLUME)}
    assert set(volumes) == {f"{DATABASE}-data", f"{SERVER}-home"}
    assert all(v["name"] == name for name, v in volumes.items())
    assert all(requests[name].retainOnDelete for name in volumes), "destroy leaves the database and leases"
    declared = containers(inventory)
    assert declared[DATABASE]["volumes"] == [
        {"volumeName": f"{DATABASE}-data", "containerPath": "/var/lib/postgresql/data"}
    ]
    assert declared[SERVER]["volumes"] == [
        {"volumeName": f"{SERVER}-home", "containerPath": "/var/lib/prefect"}
    ]
    images = inventory.of_type("docker:index/remoteImage:RemoteImage")
    assert images and all(image.inputs["keepLocally"] for image in images)


def test_the_environments_are_secret_and_the_password_is_nowhere_else() -> None:
    inventory, requests, outputs = declare()
    for name in (DATABASE, SERVER):
        assert "envs" in requests[name].additionalSecretOutputs, "encrypted in state"
        assert requests[name].deleteBeforeReplace, "a replacement frees the name and the port first"
    for resource in inventory.resources:
        if resource.name in (DATABASE, SERVER):
            wrapped = resource.inputs["envs"]
            assert unwrap_rpc_secret(wrapped) != wrapped, f"{resource.name}'s envs are a secret"
            continue
        assert PASSWORD not in repr(resource.inputs), resource.name
    assert PASSWORD not in repr(outputs)

    envs = {name: in_clear(inputs)["envs"] for name, inputs in containers(inventory).items()}
    assert f"POSTGRES_PASSWORD={PASSWORD}" in envs[DATABASE]
    assert {"POSTGRES_USER=prefect", "POSTGRES_DB=prefect", "PGPORT=15432"} <= set(envs[DATABASE])
    assert "PGDATA=/var/lib/postgresql/data" in envs[DATABASE]
    (url,) = [env for env in envs[SERVER] if env.startswith("PREFECT_API_DATABASE_CONNECTION_URL=")]
    assert url == (
        "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://prefect:s3cr3t%3A%2F%40%20pass%25word@"
        "127.0.0.1:15432/prefect"
    ), "the password URL-escaped"
    assert {
        "PREFECT_HOME=/var/lib/prefect",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=local_prefect_server.lease_files",
        "PYTHONPATH=/opt/rpa-platform-server",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS=2",
        "PREFECT_SERVER_ANALYTICS_ENABLED=false",
        "DO_NOT_TRACK=1",
    } <= set(envs[SERVER])


def test_the_server_container_gets_the_projects_lease_storage() -> None:
    inventory, _, _ = declare()
    uploads = {
        upload["file"]: upload["content"] for upload in in_clear(containers(inventory)[SERVER])["uploads"]
    }
    module = uploads["/opt/rpa-platform-server/local_prefect_server/lease_files.py"]
    assert module == (Path(__file__).parents[2] / "local_prefect_server" / "lease_files.py").read_text()
    assert "/opt/rpa-platform-server/local_prefect_server/__init__.py" in uploads, "an importable package"


def test_the_envs_output_is_secret() -> None:
    seen: dict[str, bool] = {}

    def program() -> pulumi.Output:
        platform = RpaPlatform("rpa-platform", from_pulumi_config())
        assert platform.server is not None
        return pulumi.Output.all(
            pulumi.Output.is_secret(platform.server.database.envs),
            pulumi.Output.is_secret(platform.server.api.envs),
        ).apply(lambda secret: seen.update(database=secret[0], server=secret[1]))

    run_under_mocks(STACK, example_config(), program)
    assert seen == {"database": True, "server": True}


def test_memory_lease_storage_is_a_choice_of_the_stack() -> None:
    config = example_config()
    key = config_keys.qualified(config_keys.SERVER)
    config[key] = config[key].replace('"leaseStorage": "filesystem"', '"leaseStorage": "memory"')
    inventory, _, _ = declare(config)
    envs = in_clear(containers(inventory)[SERVER])["envs"]
    assert "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect.server.concurrency.lease_storage.memory" in envs


def test_an_auth_string_protects_the_server_it_is_sent_to() -> None:
    config = example_config()
    config[config_keys.qualified(config_keys.AUTH_STRING)] = "admin:auth-secret"
    inventory, _, outputs = declare(config)
    envs = in_clear(containers(inventory)[SERVER])["envs"]
    assert "PREFECT_SERVER_API_AUTH_STRING=admin:auth-secret" in envs
    assert "auth-secret" not in repr(outputs)


def test_every_prefect_object_and_the_workers_wait_for_the_server() -> None:
    inventory, requests, _ = declare()
    dependencies = {name: set(request.dependencies) for name, request in requests.items()}
    server_urn = next(u for u in all_urns(dependencies) if u.endswith(f"::{SERVER}"))
    database_urn = next(u for u in all_urns(dependencies) if u.endswith(f"::{DATABASE}"))
    prefect_objects = [r.name for r in inventory.resources if "dynamic/prefect:" in r.type]
    assert len(prefect_objects) >= 10, prefect_objects
    for name in prefect_objects:
        assert server_urn in dependencies[name], f"{name} does not depend on the server"
    assert server_urn in dependencies["workers"]
    assert database_urn in dependencies[SERVER], "the server starts once its database is healthy"


def all_urns(dependencies: dict[str, set[str]]) -> set[str]:
    return set().union(*dependencies.values())


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_without_a_server_declare_none(stack: str) -> None:
    inventory = run_under_mocks(
        stack,
        pulumi_config_of(stack_file(stack)),
        lambda: RpaPlatform("rpa-platform", from_pulumi_config()) and None,
    )
    assert not inventory.of_type("rpa-platform:index:PrefectServer")
    assert not inventory.of_type(VOLUME)
    assert all(not r.name.endswith(("prefect-server", "prefect-postgres")) for r in inventory.resources)


def test_the_entry_point_does_not_ask_a_server_it_has_yet_to_start() -> None:
    """Nothing listens on the example's port: a stack that brings its own server skips the API check."""
    inventory = run_under_mocks(
        STACK, example_config(), lambda: runpy.run_module("infra.__main__", run_name="__main__") and None
    )
    assert inventory.of_type("rpa-platform:index:PrefectServer")
    assert inventory.of_type("prefect:WorkPool")


def test_a_password_the_engine_does_not_hold_as_a_secret_is_refused() -> None:
    """`pulumi config set serverDatabasePassword x` (without --secret) reaches the program in clear: refused,
    and not echoed, before anything is declared."""
    config = example_config()
    reset_options(project=config_keys.PROJECT, stack=STACK, preview=False)
    set_all_config(config, secret_keys=[])  # nothing encrypted
    with pytest.raises(SettingsError) as raised:
        from_pulumi_config()
    message = str(raised.value)
    assert message.startswith(f"Pulumi.{STACK}.yaml")
    assert "serverDatabasePassword: is a credential and must be stored encrypted" in message
    assert PASSWORD not in message

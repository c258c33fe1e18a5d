"""The Pulumi program for each shipped stack, run under Pulumi's mocks: what it declares must be exactly
what the stack file says, with the seed's numbers, and every dynamic provider must pickle."""

import base64
import runpy
from typing import Any

import dill
import pulumi
import pytest

from infra.prefect_resources.provider import PrefectProvider
from infra.program.rpa_platform import RpaPlatform
from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import STACKS, from_pulumi_config, from_stack_file, stack_file
from tests.support.prefect_server import PrefectServer
from tests.support.pulumi_program import Inventory, pulumi_config_of, run_under_mocks

SEED = {  # The seed's numbers per environment: rpa3 task width and timeout.
    "dev": ("development", 5, 30),
    "staging": ("staging", 8, 60),
    "prod": ("production", 15, 120),
}


def declare(stack: str, config: dict[str, str] | None = None) -> tuple[Inventory, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output:
        platform = RpaPlatform("rpa-platform", from_pulumi_config())
        return pulumi.Output.from_input(platform.outputs).apply(outputs.update)

    inventory = run_under_mocks(stack, config or pulumi_config_of(stack_file(stack)), program)
    return inventory, outputs


@pytest.mark.parametrize("stack", STACKS)
def test_inventory_matches_the_stack_file(stack: str) -> None:
    settings = from_stack_file(stack_file(stack))
    platform = settings.platform
    inventory, outputs = declare(stack)

    pools = inventory.of_type("prefect:WorkPool")
    assert {(p.inputs["name"], p.inputs["type"], p.inputs.get("concurrencyLimit")) for p in pools} == {
        (f"{stack}-{pool.name}", pool.type, pool.concurrency_limit) for pool in platform.pools
    }
    for pool in pools:
        env = pool.inputs["jobDefaults"]["env"]
        assert env["RPA_STACK"] == stack
        assert env["RPA_ENVIRONMENT"] == settings.environment
        assert pool.inputs["jobDefaults"]["network_mode"] == "host"

    queues = inventory.of_type("prefect:WorkQueue")
    assert {(q.inputs["workPoolName"], q.inputs["name"], q.inputs["concurrencyLimit"]) for q in queues} == {
        (f"{stack}-{q.pool}", q.name, q.concurrency_limit) for q in platform.queues
    }
    priorities = {
        p.inputs["workPoolName"]: p.inputs["priorities"]
        for p in inventory.of_type("prefect:WorkQueuePriorities")
    }
    assert priorities == {
        f"{stack}-{pool.name}": {q.name: q.priority for q in platform.queues if q.pool == pool.name}
        for pool in platform.pools
    }

    variables = {v.inputs["name"]: v.inputs["value"] for v in inventory.of_type("prefect:Variable")}
    assert variables == {
        f"{settings.environment}_{key}": value for key, value in settings.server_variables.items()
    }

    limits = {lim.inputs["name"]: lim.inputs for lim in inventory.of_type("prefect:GlobalConcurrencyLimit")}
    assert set(limits) == {f"{stack}-erp-api", f"{stack}-erp-api-rate", f"{stack}-db-write"}
    assert limits[f"{stack}-db-write"]["limit"] == 1, "one SQLite writer"
    assert limits[f"{stack}-erp-api-rate"]["slotDecayPerSecond"] > 0, "a rate limit"

    containers = inventory.of_type("docker:index/container:Container")
    assert len(containers) == sum(worker.replicas for worker in platform.workers)
    assert outputs["workerContainers"] == [c.inputs["name"] for c in containers]
    assert outputs["prefectApiUrl"] == "http://127.0.0.1:4200/api"
    assert outputs["workPools"] == {pool.name: f"{stack}-{pool.name}" for pool in platform.pools}


@pytest.mark.parametrize("stack", STACKS)
def test_seed_numbers(stack: str) -> None:
    environment, width, timeout = SEED[stack]
    inventory, _ = declare(stack)
    variables = {v.inputs["name"]: v.inputs["value"] for v in inventory.of_type("prefect:Variable")}
    assert variables[f"{environment}_rpa3_max_concurrent_tasks"] == width
    assert variables[f"{environment}_rpa3_timeout"] == timeout


def test_stacks_can_share_one_prefect_server() -> None:
    names: list[str] = []
    for stack in STACKS:
        inventory, _ = declare(stack)
        for resource in inventory.resources:
            if "prefect:" in resource.type and resource.type.endswith(
                ("WorkPool", "Variable", "GlobalConcurrencyLimit")
            ):
                names.append(f"{resource.type}/{resource.inputs['name']}")
            if resource.type.endswith("Container"):
                names.append(f"container/{resource.inputs['name']}")
    assert len(names) == len(set(names)), "no two stacks may name an object alike"


@pytest.mark.parametrize("stack", STACKS)
def test_worker_containers(stack: str) -> None:
    settings = from_stack_file(stack_file(stack))
    inventory, _ = declare(stack)
    for container in inventory.of_type("docker:index/container:Container"):
        inputs = container.inputs
        command = inputs["command"]
        assert command[:3] == ["prefect", "worker", "start"]
        assert command[command.index("--pool") + 1] == f"{stack}-rpa-docker"
        assert "--with-healthcheck" in command
        assert inputs["networkMode"] == "host"
        assert inputs["restart"] == "unless-stopped"
        assert not inputs.get("privileged")
        assert {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"} in inputs[
            "volumes"
        ]
        assert inputs["image"].startswith("sha256:mock-rpa-platform/runtime")
        assert "PREFECT_API_URL=http://127.0.0.1:4200/api" in inputs["envs"]
        labels = {label["label"]: label["value"] for label in inputs["labels"]}
        assert labels["rpa-platform.stack"] == stack
        assert labels["rpa-platform.environment"] == settings.environment
    hosts = inventory.of_type("pulumi:providers:docker")
    assert [h.inputs["host"] for h in hosts] == ["unix:///var/run/docker.sock"]
    images = inventory.of_type("docker:index/remoteImage:RemoteImage")
    assert all(image.inputs["keepLocally"] for image in images)


@pytest.mark.parametrize("stack", STACKS)
def test_dynamic_providers_pickle_by_reference_with_no_state(stack: str) -> None:
    inventory, _ = declare(stack)
    prefect_resources = [r for r in inventory.resources if "dynamic/prefect:" in r.type]
    assert prefect_resources
    for resource in prefect_resources:
        serialized = resource.inputs["__provider"]
        pickled = base64.b64decode(serialized["value"] if isinstance(serialized, dict) else serialized)
        provider = dill.loads(pickled)
        assert isinstance(provider, PrefectProvider)
        assert type(provider).__module__.startswith("infra.prefect_resources."), "importable, not __main__"
        assert vars(provider) == {}, "nothing (no connection, no credential) travels in the pickle"


def test_api_key_is_a_secret_everywhere_it_goes() -> None:
    config = pulumi_config_of(stack_file("prod"))
    config["rpa-platform:prefectApiKey"] = "pnu_supersecret"
    inventory, outputs = declare("prod", config)
    for resource in inventory.resources:
        if resource.type.endswith("Container"):
            continue  # Its env carries the key, marked secret (checked below).
        assert "pnu_supersecret" not in repr(resource.inputs), resource.name
    assert "pnu_supersecret" not in repr(outputs)

    def secret_envs() -> pulumi.Output:
        platform = RpaPlatform("rpa-platform", from_pulumi_config())
        container = platform.workers.containers[0]
        return pulumi.Output.all(pulumi.Output.is_secret(container.envs), container.envs)

    seen: dict[str, Any] = {}

    def program() -> pulumi.Output:
        return secret_envs().apply(lambda values: seen.update(secret=values[0], envs=values[1]))

    run_under_mocks("prod", config, program)
    assert seen["secret"] is True
    assert "PREFECT_API_KEY=pnu_supersecret" in seen["envs"]


def test_a_typo_in_a_stack_file_fails_with_the_settings_error() -> None:
    config = pulumi_config_of(stack_file("dev"))
    config["rpa-platform:platform"] = config["rpa-platform:platform"].replace(
        '"concurrencyLimit": 4', '"concurencyLimit": 4', 1
    )
    with pytest.raises(SettingsError) as raised:
        declare("dev", config)
    assert str(raised.value).startswith("Pulumi.dev.yaml")
    assert "platform.pools[0].concurencyLimit: unknown key; did you mean 'concurrencyLimit'" in str(
        raised.value
    )


def test_a_negative_limit_fails_before_any_resource_is_declared() -> None:
    config = pulumi_config_of(stack_file("dev"))
    config["rpa-platform:platform"] = config["rpa-platform:platform"].replace('"limit": 1}', '"limit": -1}')
    inventory = Inventory()
    with pytest.raises(SettingsError, match=r"concurrencyLimits\[2\]\.limit"):
        run_under_mocks(
            "dev",
            config,
            lambda: RpaPlatform("rpa-platform", from_pulumi_config()) and None,
            inventory=inventory,
        )
    assert inventory.resources == []


def test_the_program_entry_point_runs(prefect_server: PrefectServer) -> None:
    """The entry point checks the stack's API before declaring anything: it must answer."""
    config = pulumi_config_of(stack_file("dev"))
    config["rpa-platform:prefectApiUrl"] = prefect_server.api_url
    inventory = run_under_mocks(
        "dev", config, lambda: runpy.run_module("infra.__main__", run_name="__main__") and None
    )
    assert inventory.of_type("rpa-platform:index:RpaPlatform")
    assert inventory.of_type("prefect:WorkPool")


def test_adopt_existing_is_passed_to_every_prefect_object() -> None:
    config = pulumi_config_of(stack_file("dev"))
    config["rpa-platform:platform"] = config["rpa-platform:platform"][:-1] + ', "adoptExisting": true}'
    inventory, _ = declare("dev", config)
    # Queue priorities are not an object of their own: there is nothing to clash with, or to adopt.
    prefect_objects = [
        r for r in inventory.resources if "dynamic/prefect:" in r.type and not r.type.endswith("Priorities")
    ]
    assert prefect_objects and all(r.inputs["adopt"] is True for r in prefect_objects)
    assert all(
        "adopt" not in r.inputs or r.inputs["adopt"] is None
        for r in declare("dev")[0].resources
        if "dynamic/prefect:" in r.type
    )

"""The converter the Docker tests launch worker containers through (tests/support/pulumi_docker_container.py):
every input the program gives pulumi-docker converts, as the provider maps it; anything else is refused by
name. Runs without Docker, so a new argument in infra/workers.py fails here first."""

from typing import Any

import pytest
from pulumi.runtime.rpc import wrap_rpc_secret

from infra.rpa_platform import RpaPlatform
from infra.stack_config import PROJECT_ROOT, from_pulumi_config
from tests.support.docker_workers import CONTAINER, in_clear
from tests.support.pulumi_docker_container import UnconvertedInput, container_launch, go_duration_ns
from tests.support.pulumi_program import pulumi_config_of, run_under_mocks


def declared_inputs(stack: str) -> list[dict[str, Any]]:
    config = pulumi_config_of(PROJECT_ROOT / f"Pulumi.{stack}.yaml")
    config["rpa-platform:prefectApiKey"] = "pnu_secret"  # envs become a secret: converted in clear
    inventory = run_under_mocks(
        stack, config, lambda: RpaPlatform("rpa-platform", from_pulumi_config()) and None
    )
    return [in_clear(resource.inputs) for resource in inventory.resources if resource.type == CONTAINER]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_input_the_program_declares_converts(stack: str) -> None:
    declared = declared_inputs(stack)
    assert declared
    for inputs in declared:
        launch = container_launch(inputs)
        assert launch.must_run
        assert "PREFECT_API_KEY=pnu_secret" in launch.create_kwargs["environment"]


def test_dev_worker_as_the_provider_would_create_it() -> None:
    (inputs,) = declared_inputs("dev")
    kwargs = container_launch(inputs).create_kwargs
    assert kwargs["mem_limit"] == 512 * 2**20, "memory is in MB"
    assert kwargs["restart_policy"] == {"Name": "unless-stopped"}
    assert kwargs["network_mode"] == "host"
    assert kwargs["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock:rw"]
    assert kwargs["labels"]["rpa-platform.stack"] == "dev"
    health = kwargs["healthcheck"]
    assert (health["interval"], health["timeout"], health["start_period"]) == (
        30 * 10**9,
        10 * 10**9,
        30 * 10**9,
    )
    assert health["retries"] == 3 and isinstance(health["retries"], int)
    assert health["test"][0] == "CMD"
    assert kwargs["image"] == inputs["image"] and kwargs["name"] == inputs["name"]


def test_an_input_without_a_conversion_is_refused_by_name() -> None:
    with pytest.raises(UnconvertedInput, match=r"\['cpuShares'\]"):
        container_launch({"name": "w", "image": "i", "cpuShares": 512.0})
    with pytest.raises(UnconvertedInput, match=r"healthcheck: field\(s\) \['startInterval'\]"):
        container_launch({"healthcheck": {"tests": ["CMD", "true"], "startInterval": "1s"}})
    with pytest.raises(UnconvertedInput, match="only binds"):
        container_launch({"volumes": [{"containerPath": "/cache"}]})  # an anonymous volume


def test_numbers_the_provider_takes_as_integers_must_be_whole() -> None:
    with pytest.raises(UnconvertedInput, match=r"memory=512\.5"):
        container_launch({"memory": 512.5})


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("1.5s", 1_500_000_000), ("300ms", 300_000_000), ("0", 0)],
)
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert go_duration_ns(text) == nanoseconds


@pytest.mark.parametrize("text", ["30", "30 s", "s", "1d"])
def test_what_is_not_a_go_duration_is_refused(text: str) -> None:
    with pytest.raises(UnconvertedInput, match="not a Go duration"):
        go_duration_ns(text)


def test_secrets_reach_the_converter_in_clear() -> None:
    secret = wrap_rpc_secret(["A=1"])
    assert in_clear({"envs": secret, "labels": [{"label": "x", "value": secret}]}) == {
        "envs": ["A=1"],
        "labels": [{"label": "x", "value": ["A=1"]}],
    }

"""Docker hosts a worker may run on (`workers[].dockerHost`): the local socket, another socket, tcp:// and
ssh:// (docs/stack-file.md documents all of them). What validation accepts, what it refuses, and what the program
declares for each host: its own pulumi-docker provider, and the socket its workers mount."""

import copy
from typing import Any

import pytest

from infra.program.rpa_platform import RpaPlatform
from infra.program.worker_spec import CONTAINER_DOCKER_SOCKET, docker_socket_on_host, worker_container_specs
from infra.stack_files.settings import DOCKER_HOST_SCHEMES, SettingsError, StackSettings
from infra.stack_files.stack_config import parse_stack_settings
from tests.support.pulumi_program import run_under_mocks
from tests.unit.test_settings import SOURCE, problems_for, valid

ACCEPTED = [
    "unix:///var/run/docker.sock",
    "unix:///var/run/rpa-docker-2.sock",
    "tcp://docker-host:2376",
    "ssh://rpa@docker-host",
    "ssh://rpa@docker-host:2222",
]


def on_host(docker_host: str) -> dict[str, Any]:
    raw = copy.deepcopy(valid())
    raw["platform"]["workers"][0]["dockerHost"] = docker_host
    return raw


@pytest.mark.parametrize("docker_host", ACCEPTED)
def test_every_documented_scheme_is_accepted(docker_host: str) -> None:
    settings = parse_stack_settings("prod", SOURCE, on_host(docker_host))
    assert settings.platform.workers[0].docker_host == docker_host


def test_the_documented_schemes_are_the_accepted_ones() -> None:
    assert DOCKER_HOST_SCHEMES == ("unix://", "tcp://", "ssh://")


@pytest.mark.parametrize(
    "docker_host", ["/var/run/docker.sock", "docker-host:2376", "rpa@docker-host", "http://docker-host"]
)
def test_a_host_without_a_docker_scheme_is_refused(docker_host: str) -> None:
    reason = problems_for(on_host(docker_host))["platform.workers[0].dockerHost"]
    assert reason.startswith("must start with one of unix://, tcp://, ssh://"), reason


def test_a_refused_host_does_not_echo_its_credentials() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_stack_settings("prod", SOURCE, on_host("tcp//admin:s3cret@docker-host:2376"))
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("docker_host", "mounted"),
    [
        ("unix:///var/run/docker.sock", "/var/run/docker.sock"),
        ("unix:///var/run/rpa-docker-2.sock", "/var/run/rpa-docker-2.sock"),
        # A remote host's workers start flow runs through that host's own default socket.
        ("ssh://rpa@docker-host", CONTAINER_DOCKER_SOCKET),
        ("tcp://docker-host:2376", CONTAINER_DOCKER_SOCKET),
    ],
)
def test_docker_workers_mount_the_socket_of_their_host(docker_host: str, mounted: str) -> None:
    assert docker_socket_on_host(docker_host) == mounted
    settings: StackSettings = parse_stack_settings("prod", SOURCE, on_host(docker_host))
    for spec in worker_container_specs(settings):
        assert spec.docker_host == docker_host
        assert spec.binds == [(mounted, CONTAINER_DOCKER_SOCKET)]


def test_workers_of_one_pool_on_two_hosts_get_a_provider_each_and_distinct_names() -> None:
    """The program under mocks (no Docker): one pulumi-docker provider per host, each container on its own
    host's provider, and names that do not repeat in the pool (they name the Prefect worker, the container
    and the Pulumi resource)."""
    hosts = ["unix:///var/run/docker.sock", "ssh://rpa@docker-host"]
    raw = valid()
    worker = raw["platform"]["workers"][0]
    raw["platform"]["workers"] = [{**worker, "replicas": 2, "dockerHost": host} for host in hosts]
    settings = parse_stack_settings("prod", SOURCE, raw)
    inventory = run_under_mocks("prod", {}, lambda: RpaPlatform("rpa-platform", settings) and None)

    providers = {p.name: p.inputs["host"] for p in inventory.of_type("pulumi:providers:docker")}
    assert sorted(providers.values()) == sorted(hosts)
    containers = inventory.of_type("docker:index/container:Container")
    names = [container.inputs["name"] for container in containers]
    assert len(names) == 4 == len(set(names)), names
    host_of = {c.inputs["name"]: providers[c.provider.split("::")[-2]] for c in containers}
    assert host_of == {spec.container_name: spec.docker_host for spec in worker_container_specs(settings)}
    assert sorted(host_of.values()) == sorted(hosts * 2)

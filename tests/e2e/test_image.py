"""The runtime image (docker/Dockerfile, built by docker/build-images.sh): what it holds, and that it serves
as worker and flow-run image on this machine's engine, where every container uses the host network.

Without Docker these tests skip, unless RPA_REQUIRE_DOCKER=1 (CI), where they fail."""

import json
import os
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prefect_server import PrefectServer

pytestmark = pytest.mark.docker

IMAGE = os.environ.get("RPA_IMAGE", "rpa-platform/runtime:latest")
REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
DOCKER_SOCKET = "/var/run/docker.sock"


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _unavailable(reason: str) -> None:
    if os.environ.get("RPA_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (RPA_REQUIRE_DOCKER=1: Docker is required here)")
    pytest.skip(reason)


# Session scope, like prefect_server: pytest sets up wider scopes first, so a module-scoped check would only
# run after the server had started for nothing.
@pytest.fixture(scope="session")
def image() -> str:
    if shutil.which("docker") is None:
        _unavailable("no docker CLI on PATH")
    if _docker("info", timeout=30).returncode != 0:
        _unavailable("no Docker engine answers: start one with .ci/docker-engine.sh")
    if _docker("image", "inspect", IMAGE, timeout=30).returncode != 0:
        _unavailable(f"image {IMAGE} is missing: build it with docker/build-images.sh")
    return IMAGE


def run_in_image(
    image: str, *command: str, env: dict[str, str] | None = None, volumes: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --network host`: this machine has no bridge network."""
    args = ["run", "--rm", "--network", "host"]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    for volume in volumes:
        args += ["--volume", volume]
    result = _docker(*args, image, *command)
    assert result.returncode == 0, f"{command} failed in {image}:\n{result.stdout}\n{result.stderr}"
    return result


def server_env(server: PrefectServer) -> dict[str, str]:
    env = {"PREFECT_API_URL": server.api_url}
    if server.auth_string:
        env["PREFECT_API_AUTH_STRING"] = server.auth_string
    return env


def test_image_runs_the_pinned_prefect(image: str) -> None:
    pinned = next(d.split("==")[1] for d in PYPROJECT["project"]["dependencies"] if d.startswith("prefect=="))
    output = run_in_image(image, "prefect", "version").stdout
    assert f"Version:              {pinned}" in output, output


def test_image_is_labelled_with_the_project_version(image: str) -> None:
    labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout)
    assert labels["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]


def test_image_holds_the_flows_and_the_docker_worker(image: str) -> None:
    modules = ["prefect_docker", "rpa_naming", "flows.rpa1.flow", "flows.rpa2.flow", "flows.rpa3.flow"]
    run_in_image(image, "python", "-c", f"import {', '.join(modules)}")


def test_image_leaves_out_what_only_the_pulumi_program_needs(image: str) -> None:
    """The image installs the [flows,worker] extras: the Pulumi SDKs, gRPC (only Pulumi needs it) and infra/
    itself stay in Pulumi's venv."""
    absent = ["pulumi", "pulumi_docker", "grpc", "infra"]
    script = f"import importlib.util; print([m for m in {absent!r} if importlib.util.find_spec(m)])"
    assert run_in_image(image, "python", "-c", script).stdout.strip() == "[]"


def test_container_talks_to_the_prefect_server_on_the_host(image: str, prefect_server: PrefectServer) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate

    # A value only the session's server holds: an ephemeral server in the container would not have it.
    name = f"image-test-{uuid.uuid4().hex[:12]}"
    with get_client(sync_client=True) as client:
        client.create_variable(VariableCreate(name=name, value=name))
    try:
        script = f"from prefect.variables import Variable; print(Variable.get({name!r}))"
        output = run_in_image(image, "python", "-c", script, env=server_env(prefect_server)).stdout
        assert output.strip() == name
    finally:
        with get_client(sync_client=True) as client:
            client.delete_variable_by_name(name)


def test_docker_sdk_in_the_image_negotiates_with_the_engine(image: str) -> None:
    script = "import docker; c = docker.from_env(); print(c.api.api_version, c.version()['ApiVersion'])"
    output = run_in_image(image, "python", "-c", script, volumes=(f"{DOCKER_SOCKET}:{DOCKER_SOCKET}",)).stdout
    negotiated, server = output.split()
    assert negotiated == server


@pytest.fixture
def docker_pool(image: str, prefect_server: PrefectServer) -> Iterator[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect_docker.worker import DockerWorker

    name = f"image-test-{uuid.uuid4().hex[:12]}"
    # The template comes from the worker class: the CLI's get-default-base-job-template goes to the internet.
    template = DockerWorker.get_default_base_job_template()
    defaults = {"image": image, "image_pull_policy": "Never", "network_mode": "host", "auto_remove": True}
    for key, value in defaults.items():
        template["variables"]["properties"][key]["default"] = value
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="docker", base_job_template=template))
    yield name
    with get_client(sync_client=True) as client:
        client.delete_work_pool(name)


def test_image_starts_a_docker_worker_that_registers(
    image: str, prefect_server: PrefectServer, docker_pool: str
) -> None:
    from prefect.client.orchestration import get_client

    container = f"rpa-{docker_pool}-worker"
    env = server_env(prefect_server)
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    started = _docker(
        "run", "--detach", "--name", container, "--network", "host",
        "--volume", f"{DOCKER_SOCKET}:{DOCKER_SOCKET}", *env_args,
        image, "prefect", "worker", "start", "--pool", docker_pool, "--type", "docker", "--name", container,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                if any(w.name == container for w in client.read_workers_for_work_pool(docker_pool)):
                    return
                time.sleep(1)
        logs = _docker("logs", "--tail", "40", container)
        pytest.fail(f"worker {container} did not register within 60 s; logs:\n{logs.stdout}{logs.stderr}")
    finally:
        _docker("rm", "--force", container)

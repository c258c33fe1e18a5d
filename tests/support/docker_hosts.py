"""Two Docker hosts on one machine: its engine (unix:///var/run/docker.sock) and a second engine with a socket,
data root and containerd of its own (.ci/second-docker-engine.sh), so that workers on two Docker hosts are
tested for real without a second machine. Both use host networking only.

Without the second engine the tests that need it skip, unless RPA_REQUIRE_DOCKER=1 (CI), where they fail."""

import os
import shlex
import shutil
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

import docker
from infra.stack_files.settings import DEFAULT_DOCKER_HOST
from infra.stack_files.stack_config import PROJECT_ROOT
from tests.support.processes import SESSION_MARK
from tests.support.pulumi_cli import CommandFailed, run_command

FIRST_DOCKER_HOST = DEFAULT_DOCKER_HOST
SECOND_ENGINE = os.environ.get("RPA_DOCKER2_NAME", "rpa-docker-2")
"""Names the second engine's socket, roots and log, as the script does."""
SECOND_DOCKER_HOST = f"unix:///var/run/{SECOND_ENGINE}.sock"
SECOND_ENGINE_LOG = Path(os.environ.get("RPA_DOCKER2_LOG", f"/tmp/{SECOND_ENGINE}.log"))
SECOND_ENGINE_SCRIPT = PROJECT_ROOT / ".ci" / "second-docker-engine.sh"
# Bounds on hangs, not on speed: the engine answers in 1-5 s; a 400 MB image loads in about 15 s.
ENGINE_BOUND_SECONDS = 180
IMAGE_LOAD_BOUND_SECONDS = 600
LOG_TAIL_LINES = 30


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("RPA_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (RPA_REQUIRE_DOCKER=1: Docker is required here)")
    pytest.skip(reason)


def docker_client_or_fail(image: str) -> docker.DockerClient:
    """A client for the local engine, which holds `image`. In CI (RPA_REQUIRE_DOCKER=1) a missing engine or
    image fails the test; elsewhere it skips, saying what is missing."""
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(image)
    except Exception as error:
        unavailable(f"needs a Docker engine and the image {image} (`make image`): {error}")
    return client


def answers(host: str) -> bool:
    try:
        with closing(docker.DockerClient(base_url=host, timeout=10)) as client:
            return bool(client.ping())
    except Exception:
        return False


def engine_log_tail() -> str:
    if not SECOND_ENGINE_LOG.exists():
        return f"(no log at {SECOND_ENGINE_LOG})"
    lines = SECOND_ENGINE_LOG.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return f"{SECOND_ENGINE_LOG}, last lines:\n" + "\n".join(lines)


def run_engine_script(*args: str) -> None:
    env = {**os.environ, "RPA_DOCKER2_NAME": SECOND_ENGINE, "RPA_DOCKER2_LOG": str(SECOND_ENGINE_LOG)}
    # Without the session's mark: the engine is the machine's, and stays up after the session while another
    # process's containers run on it (second_docker_host), so the session's end must not take it for a leak.
    env.pop(SESSION_MARK, None)
    command = ["bash", str(SECOND_ENGINE_SCRIPT), *args]
    result = run_command(command, PROJECT_ROOT, env, timeout=ENGINE_BOUND_SECONDS)
    if result.returncode != 0:
        raise CommandFailed(f"{result.describe()}\n{engine_log_tail()}")


@contextmanager
def second_docker_host() -> Iterator[str]:
    """The second engine's URL, answering. When it does not answer, it is started with the script (root only)
    and stopped on the way out unless containers remain on it; an engine that was already running (CI starts
    it) is left running."""
    if answers(SECOND_DOCKER_HOST):
        yield SECOND_DOCKER_HOST
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        unavailable(f"no second Docker engine at {SECOND_DOCKER_HOST}: start it with {SECOND_ENGINE_SCRIPT}")
    try:
        run_engine_script("start")
    except CommandFailed as error:
        unavailable(f"the second Docker engine did not start:\n{error}")
    try:
        yield SECOND_DOCKER_HOST
    finally:
        # Another test process may have come to use it meanwhile: an engine with containers stays up.
        if not containers_on(SECOND_DOCKER_HOST):
            run_engine_script("stop")


def containers_on(host: str) -> list[str]:
    with closing(docker.DockerClient(base_url=host)) as client:
        return [container.name for container in client.containers.list(all=True, ignore_removed=True)]


def ensure_image(host: str, image: str, source: str = FIRST_DOCKER_HOST) -> None:
    """No registry: an image the first engine built is copied to another engine (`docker save | load`) unless
    that engine has it already, by ID (the same tag there may be an older build). The ID stays the same."""
    wanted = image_id(source, image)
    if wanted is None:
        unavailable(f"image {image} is missing on {source}: build it with `make image`")
    if image_id(host, image) == wanted:
        return
    save = f"docker --host {shlex.quote(source)} save {shlex.quote(image)}"
    load = f"docker --host {shlex.quote(host)} load --quiet"
    # The build it replaces (same tag) would stay there untagged, one more with every `make image`.
    prune = f"docker --host {shlex.quote(host)} image prune --force"
    command = ["bash", "-o", "pipefail", "-c", f"{save} | {load} && {prune}"]
    result = run_command(command, PROJECT_ROOT, dict(os.environ), timeout=IMAGE_LOAD_BOUND_SECONDS)
    if result.returncode != 0 or image_id(host, image) != wanted:
        unavailable(f"could not copy {image} from {source} to {host}:\n{result.describe()}")


def image_id(host: str, image: str) -> str | None:
    with closing(docker.DockerClient(base_url=host)) as client:
        try:
            return str(client.images.get(image).id)
        except docker.errors.ImageNotFound:
            return None


def remove_labelled_containers(hosts: Iterable[str], label: str) -> list[str]:
    """Force-remove every container carrying `label` (key=value) on each host; their names, for messages."""
    removed = []
    for host in hosts:
        with closing(docker.DockerClient(base_url=host)) as client:
            for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    continue  # gone between the listing and the removal
                except docker.errors.APIError as error:
                    # A flow-run container (auto_remove) that just ended is being removed by Docker itself.
                    if error.status_code != 409:
                        raise
                removed.append(f"{host}: {container.name}")
    return removed

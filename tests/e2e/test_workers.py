"""The dev stack's worker containers through the real engine: `pulumi up` with pulumi-docker's plugin makes
them as the stack says, they report healthy and ONLINE in the pool Pulumi made, nothing drifts afterwards,
and `up` repairs and changes them: a removed worker comes back, replicas scale, and a changed image rolls
the workers while the pool always has a healthy worker."""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import SyncPrefectClient

from infra.docker_rules import memory_bytes
from infra.program.worker_spec import worker_container_specs
from infra.stack_files.settings import StackSettings
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file
from tests.conftest import destroyed
from tests.support.docker_hosts import docker_client_or_fail
from tests.support.prefect_server import PrefectServer
from tests.support.pulumi_cli import PulumiProject
from tests.support.stack_workers import (
    engine,
    health,
    healthy_workers,
    logs_of,
    online_workers,
    wait_for,
    worker_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SECOND_NS = 10**9
POOL = "dev-rpa-docker"
SAMPLE_SECONDS = 0.25
ONLINE_BOUND_SECONDS = 120  # a worker registers in 5-10 s on a quiet machine
HEARTBEAT_BOUND_SECONDS = 120  # a worker beats every 30 s (PREFECT_WORKER_HEARTBEAT_SECONDS)


def set_workers(project: PulumiProject, **changes: object) -> StackSettings:
    """Change the dev stack's worker entry in the copy's stack file; the settings it now holds."""

    def edit(platform: dict) -> None:
        platform["workers"][0].update(changes)

    project.edit_platform("dev", edit)
    return from_stack_file(project.stack_file("dev"))


def up_to_date(project: PulumiProject, client: SyncPrefectClient, settings: StackSettings) -> None:
    """Every declared worker healthy in Docker and ONLINE in its pool, and no container besides them."""
    names = {spec.container_name for spec in worker_container_specs(settings)}
    workers = {spec.name for spec in worker_container_specs(settings)}
    explain: Callable[[], str] = lambda: logs_of(project.api_url)  # noqa: E731
    wait_for(
        lambda: set(healthy_workers(project.api_url)) == names, ONLINE_BOUND_SECONDS, f"{names}", explain
    )
    wait_for(
        lambda: workers <= online_workers(client, POOL), ONLINE_BOUND_SECONDS, f"{workers} ONLINE", explain
    )
    assert {container.name for container in worker_containers(project.api_url)} == names


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, cli_server: PrefectServer) -> Iterator[PulumiProject]:
    """The dev stack with its worker, brought up once for the module's tests, which each leave it as its
    stack file says."""
    image = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"]
    docker_client_or_fail(str(image))
    project = PulumiProject.copy(tmp_path_factory.mktemp("workers"), cli_server.api_url, workers=True)
    set_workers(project, pollSeconds=2)
    try:
        project.up("dev", "--policy-pack", "infra/policies")
        yield project
    finally:
        destroyed(project)


def test_up_makes_the_workers_as_declared_healthy_online_and_without_drift(
    stack: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    settings = from_stack_file(stack.stack_file("dev"))
    up_to_date(stack, cli_client, settings)

    # What Docker reports against what the stack file says, not against the inputs workers.py derived.
    (worker,) = settings.platform.workers
    assert worker.mem_limit, "the dev stack limits its workers' memory"
    (spec,) = worker_container_specs(settings)
    (container,) = worker_containers(stack.api_url)
    config, host_config = container.attrs["Config"], container.attrs["HostConfig"]
    assert config["Cmd"] == spec.command
    assert {f"{key}={value}" for key, value in spec.env.items()} <= set(config["Env"])
    assert config["Healthcheck"]["Test"] == spec.healthcheck.test
    assert config["Healthcheck"]["Interval"] == spec.healthcheck.interval_seconds * SECOND_NS
    assert host_config["Memory"] == host_config["MemorySwap"] == memory_bytes(worker.mem_limit)
    assert host_config["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert container.labels.items() >= spec.labels.items(), "the image's labels come on top"
    mounts = [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in container.attrs["Mounts"]]
    assert mounts == [("bind", "/var/run/docker.sock", "/var/run/docker.sock", True)]
    assert host_config["NetworkMode"] == "host"
    assert host_config["Privileged"] is False

    # No perpetual diff: neither the program's inputs nor what refresh reads back differ from the state.
    stack.preview("dev", "--expect-no-changes")
    stack.refresh("dev", "--expect-no-changes")
    stack.preview("dev", "--refresh", "--expect-no-changes")


def test_a_removed_worker_is_recreated_by_up_refresh(
    stack: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    settings = from_stack_file(stack.stack_file("dev"))
    (container,) = worker_containers(stack.api_url)
    container.remove(force=True)

    steps = stack.preview_steps("dev", "--refresh")
    assert steps[container.name] == "create", steps
    stack.up("dev", "--refresh")
    up_to_date(stack, cli_client, settings)
    stack.preview("dev", "--refresh", "--expect-no-changes")


def test_replicas_go_from_one_to_three_and_back(stack: PulumiProject, cli_client: SyncPrefectClient) -> None:
    three = set_workers(stack, replicas=3)
    stack.up("dev")
    up_to_date(stack, cli_client, three)

    one = set_workers(stack, replicas=1)
    stack.up("dev")
    (kept,) = worker_containers(stack.api_url)
    assert kept.name == worker_container_specs(one)[0].container_name, "the first worker stays as it was"
    up_to_date(stack, cli_client, one)
    stack.preview("dev", "--expect-no-changes")


def test_a_changed_image_rolls_the_workers_with_a_healthy_worker_throughout(
    stack: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    before = from_stack_file(stack.stack_file("dev"))
    image = str(before.platform.pools[0].job_defaults["image"])
    rolled = f"{image.rsplit(':', 1)[0]}:rolling-test"
    engine_client = engine(before.platform.workers[0].docker_host)
    engine_client.images.get(image).tag(rolled)
    try:
        # Two replicas first, on the old image: the roll then replaces both.
        two = set_workers(stack, replicas=2)
        stack.up("dev")
        up_to_date(stack, cli_client, two)
        old = {container.name for container in worker_containers(stack.api_url)}
        after = set_workers(stack, image=rolled)
        samples = sample_while(lambda: stack.up("dev"), stack.api_url, cli_client)
    finally:
        engine_client.images.remove(rolled, noprune=True)

    # The new generation's names come from the stack file that names the new image.
    up_to_date(stack, cli_client, after)
    assert not old & {container.name for container in worker_containers(stack.api_url)}, "all were replaced"
    # Both generations share the workers' names in Prefect: a heartbeat after the old ones were removed is
    # the new generation's own, so it reaches Prefect rather than only answering its health check.
    rolled = datetime.now(UTC)
    wait_for(
        lambda: all(
            worker.last_heartbeat_time is not None and worker.last_heartbeat_time > rolled
            for worker in cli_client.read_workers_for_work_pool(POOL)
            if worker.name in {spec.name for spec in worker_container_specs(after)}
        ),
        HEARTBEAT_BOUND_SECONDS,
        "a heartbeat of each new worker",
        lambda: logs_of(stack.api_url),
    )

    fewest_healthy = min(healthy for _, healthy, _ in samples)
    docker_gap = longest_run(samples, lambda healthy, online: healthy == 0)
    online_gap = longest_run(samples, lambda healthy, online: not online)
    print(
        f"rolling replace of 2 workers: {len(samples)} samples over {samples[-1][0]:.1f} s, fewest healthy "
        f"worker containers {fewest_healthy}, longest gap without one {docker_gap:.2f} s, longest without an "
        f"ONLINE worker in Prefect {online_gap:.2f} s"
    )
    assert fewest_healthy >= 1, "the pool was left without a healthy worker during the roll"
    assert online_gap == 0, "the pool was left without an ONLINE worker during the roll"


Sample = tuple[float, int, bool]
"""(seconds since the start, healthy worker containers, an ONLINE worker in Prefect)."""


def sample_while(action: Callable[[], object], api_url: str, client: SyncPrefectClient) -> list[Sample]:
    """Run `action` in a thread; meanwhile, every SAMPLE_SECONDS, count the healthy worker containers and
    ask Prefect whether the pool has an ONLINE worker."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run)
    started = time.monotonic()
    thread.start()
    samples = []
    while thread.is_alive():
        running = [c for c in worker_containers(api_url) if c.status == "running"]
        healthy = sum(1 for container in running if health(container) == "healthy")
        samples.append((time.monotonic() - started, healthy, bool(online_workers(client, POOL))))
        time.sleep(SAMPLE_SECONDS)
    thread.join()
    if failure:
        raise failure[0]
    return samples


def longest_run(samples: list[Sample], bad: Callable[[int, bool], bool]) -> float:
    """The longest time between the first and the last of consecutive samples for which `bad` holds."""
    longest, start = 0.0, None
    for at, healthy, online in samples:
        if bad(healthy, online):
            start = at if start is None else start
            longest = max(longest, at - start)
        else:
            start = None
    return longest

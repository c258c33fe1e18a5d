"""Workers of one pool on two Docker hosts, for real: the dev stack with one worker entry on this machine's
engine and one on a second engine (tests/support/docker_hosts.py), each with its own `dockerHost`.

`pulumi up` (pulumi-docker's plugin) makes one Docker provider per host and each worker container on its own
host's engine. On a real Prefect server both workers then register with the pool Pulumi made, share its
concurrency limit (a limit of two: the first host's two runs hold it, and the second host's two wait, their
worker asking in vain, until those end), and each run's container is on the engine of the worker that took it.
`pulumi destroy` then removes the workers from both engines.

The second host's runs come once the pool is full, on purpose: Prefect applies a pool's limit when a worker
asks for runs, counting those Pending and Running (sql/sqlite/get-runs-from-worker-queues.sql.jinja), so two
workers asking in the instant before either has marked its runs Pending can together take more than the
limit. What this test proves is the sharing, not that race."""

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.utilities.callables import parameter_schema

import docker
from infra.program.worker_spec import CONTAINER_DOCKER_SOCKET, docker_socket_on_host, worker_container_specs
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file
from tests.conftest import destroyed
from tests.e2e.gated_flow import gated
from tests.support.docker_hosts import (
    FIRST_DOCKER_HOST,
    docker_client_or_fail,
    ensure_image,
    remove_labelled_containers,
    second_docker_host,
)
from tests.support.prefect_server import PrefectServer
from tests.support.pulumi_cli import PulumiProject
from tests.support.pulumi_program import CONTAINER, DOCKER_PROVIDER
from tests.support.stack_workers import (
    logs_of,
    online_workers,
    wait_for,
    worker_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

Hosts = tuple[str, str]
POOL = "rpa-docker"
POOL_LIMIT = 2
WORKER_LIMIT = 2
"""Each worker alone would run as many as the pool admits: only the pool's limit, shared, holds them to it."""
RUNS_PER_QUEUE = 2
QUEUES = ("critical", "batch")
"""One queue per worker (dev's queues): the test, not whichever worker asks first, decides where runs go."""
POLL_SECONDS = 2
LABEL = "rpa-platform.e2e"
IN_CONTAINER = "/opt/rpa-e2e"
GATE = f"{IN_CONTAINER}/gate/open"
ACTIVE = {StateType.PENDING, StateType.RUNNING, StateType.CANCELLING}
"""The states a pool's limit counts."""
SAMPLE_SECONDS = 0.5
# Bounds on hangs, never on speed (a quiet machine needs a tenth of each).
ONLINE_BOUND = 180
FULL_BOUND = 300
POLLS_BOUND = 120
FINISH_BOUND = 300


@pytest.fixture(scope="session")
def hosts() -> Iterator[Hosts]:
    """This machine's engine and the second one."""
    with second_docker_host() as second:
        yield FIRST_DOCKER_HOST, second


@pytest.fixture
def project_on_two_hosts(tmp_path: Path, cli_server: PrefectServer, hosts: Hosts) -> Iterator[PulumiProject]:
    """A copy of the project whose stacks keep their worker containers; whatever its stacks made is destroyed
    after, and what that left on either engine is removed."""
    project = PulumiProject.copy(tmp_path, cli_server.api_url, workers=True)
    try:
        yield project
    finally:
        destroyed(project, hosts)


def worker_per_host(hosts: Hosts) -> Callable[[dict[str, Any]], None]:
    """The dev stack's pool limited to POOL_LIMIT, and its shipped worker entry made one per host, each
    polling its own queue, often."""

    def edit(platform: dict[str, Any]) -> None:
        platform["pools"][0]["concurrencyLimit"] = POOL_LIMIT
        (shipped,) = platform["workers"]
        platform["workers"] = [
            {
                **shipped,
                "limit": WORKER_LIMIT,
                "queues": [queue],
                "dockerHost": host,
                "pollSeconds": POLL_SECONDS,
            }
            for host, queue in zip(hosts, QUEUES, strict=True)
        ]

    return edit


def docker_hosts_in_state(project: PulumiProject) -> tuple[list[str], dict[str, str]]:
    """From the dev stack's state: the hosts of its pulumi-docker providers, and the host of the provider
    that made each container, by the container's name."""
    resources = project.export("dev")["deployment"]["resources"]
    provider_hosts = {
        f"{resource['urn']}::{resource['id']}": resource["inputs"]["host"]
        for resource in resources
        if resource["type"] == DOCKER_PROVIDER
    }
    containers = {
        resource["outputs"]["name"]: provider_hosts[resource["provider"]]
        for resource in resources
        if resource["type"] == CONTAINER
    }
    return sorted(provider_hosts.values()), containers


@dataclass
class PoolWatch:
    """Polls the server for the test's flow runs and keeps the most it ever saw at once."""

    client: SyncPrefectClient
    deployment_id: UUID
    peak_running: int = 0
    peak_active: int = 0
    runs: list[FlowRun] = field(default_factory=list)

    def sample(self) -> list[FlowRun]:
        self.runs = self.client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.deployment_id]))
        )
        self.peak_running = max(self.peak_running, len(self.of(StateType.RUNNING)))
        self.peak_active = max(self.peak_active, sum(run.state_type in ACTIVE for run in self.runs))
        return self.runs

    def all_ended(self) -> bool:
        total = RUNS_PER_QUEUE * len(QUEUES)
        return len(self.runs) == total and all(run.state and run.state.is_final() for run in self.runs)

    def of(self, state: StateType) -> list[FlowRun]:
        return [run for run in self.runs if run.state_type == state]

    def until(self, condition: Callable[[], bool], bound: float, what: str, logs: Callable[[], str]) -> None:
        deadline = time.monotonic() + bound
        while True:
            self.sample()
            if condition():
                return
            if time.monotonic() > deadline:
                states = ", ".join(
                    f"{run.name} ({run.work_queue_name}): {run.state_name}" for run in self.runs
                )
                raise AssertionError(f"no {what} within {bound:g} s; runs: {states}\n{logs()}")
            time.sleep(SAMPLE_SECONDS)


@dataclass
class QueuePolls:
    """When a queue's worker asked for runs, as the server records it (`last_polled`)."""

    client: SyncPrefectClient
    pool: str
    queue: str
    since: datetime
    seen: set[datetime] = field(default_factory=set)

    def twice(self) -> bool:
        """Two polls recorded after `since`: the second began after the first was recorded, so after `since`
        (the server records a poll once it has answered it)."""
        polled = self.client.read_work_queue_by_name(self.queue, work_pool_name=self.pool).last_polled
        if polled is not None and polled > self.since:
            self.seen.add(polled)
        return len(self.seen) >= 2


def start_runs(client: SyncPrefectClient, deployment_id: UUID, queue: str) -> None:
    for _ in range(RUNS_PER_QUEUE):
        client.create_flow_run_from_deployment(
            deployment_id, parameters={"gate": GATE}, work_queue_name=queue
        )


def create_gated_deployment(client: SyncPrefectClient, pool: str, gate_dir: Path, unique: str) -> UUID:
    """A deployment of tests/e2e/gated_flow.py into the pool: its runs mount the flow and the gate, stay after
    they end (to be inspected, then removed by label) and take everything else from the pool's defaults."""
    flow_file = Path(__file__).with_name("gated_flow.py")
    return client.create_deployment(
        flow_id=client.create_flow_from_name(gated.name),
        name=f"two-hosts-{unique}",
        work_pool_name=pool,
        entrypoint="gated_flow.py:gated",
        pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": IN_CONTAINER}}],
        parameter_openapi_schema=parameter_schema(gated).model_dump_for_openapi(),
        job_variables={
            "volumes": [f"{flow_file}:{IN_CONTAINER}/gated_flow.py:ro", f"{gate_dir}:{IN_CONTAINER}/gate:ro"],
            "auto_remove": False,
            "labels": {LABEL: unique},
        },
    )


def flow_run_containers(hosts: Hosts, unique: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Flow-run id -> (host, container attributes) of every container the test's runs had, on each engine."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for host in hosts:
        with closing(docker.DockerClient(base_url=host)) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"{LABEL}={unique}"}, ignore_removed=True
            ):
                run_id = container.labels["io.prefect.flow-run-id"]
                assert run_id not in found, (
                    f"flow run {run_id} has containers on {found[run_id][0]} and {host}"
                )
                found[run_id] = (host, container.attrs)
    return found


def remove_runs(watch: PoolWatch, hosts: Hosts, unique: str) -> None:
    """The test's flow runs, their containers on both engines (not the stack's: `destroy` leaves them) and the
    deployment (it would keep the pool from being destroyed). The runs go first: the workers still poll, and
    a run that is gone is one they cannot start."""
    try:
        for run in watch.sample():
            watch.client.delete_flow_run(run.id)
        remove_labelled_containers(hosts, f"{LABEL}={unique}")
    finally:
        watch.client.delete_deployment(watch.deployment_id)


def test_workers_on_two_docker_hosts_share_their_pool_and_run_flows_on_their_own_host(
    project_on_two_hosts: PulumiProject,
    cli_client: SyncPrefectClient,
    hosts: Hosts,
    tmp_path: Path,
    unique: str,
) -> None:
    project = project_on_two_hosts
    image = str(from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"])
    docker_client_or_fail(image).close()
    ensure_image(hosts[1], image)

    project.edit_platform("dev", worker_per_host(hosts))
    project.up("dev")
    settings = from_stack_file(project.stack_file("dev"))
    pool = settings.pool_name(POOL)
    specs = worker_container_specs(settings)
    names = {spec.name for spec in specs}
    assert len(names) == len(specs), f"the workers of one pool need distinct names: {names}"

    # One provider per host, each worker container made through its own host's provider ...
    providers, made_on = docker_hosts_in_state(project)
    assert providers == sorted(hosts)
    assert made_on == {spec.container_name: spec.docker_host for spec in specs}
    # ... and running on that host's engine, starting flow runs through that engine's socket.
    for spec in specs:
        (container,) = worker_containers(project.api_url, (spec.docker_host,))
        assert container.name == spec.container_name
        mounts = [(mount["Source"], mount["Destination"]) for mount in container.attrs["Mounts"]]
        assert mounts == [(docker_socket_on_host(spec.docker_host), CONTAINER_DOCKER_SOCKET)]
    worker_of_host = {spec.docker_host: spec.name for spec in specs}
    queue_of_worker = {spec.name: spec.command[spec.command.index("--work-queue") + 1] for spec in specs}
    logs = lambda: logs_of(project.api_url, hosts)  # noqa: E731
    wait_for(lambda: online_workers(cli_client, pool) == names, ONLINE_BOUND, f"workers {names} ONLINE", logs)

    gate_dir = tmp_path / "gate"
    gate_dir.mkdir()
    deployment_id = create_gated_deployment(cli_client, pool, gate_dir, unique)
    watch = PoolWatch(cli_client, deployment_id)
    try:
        # The first host's worker fills the pool: its two runs Running, held there by the gate.
        held_queue, waiting_queue = QUEUES
        start_runs(cli_client, deployment_id, held_queue)
        watch.until(lambda: len(watch.of(StateType.RUNNING)) == POOL_LIMIT, FULL_BOUND, "full pool", logs)

        # The second host's worker, with room for two of its own, is refused while it keeps asking.
        waiting_since = datetime.now().astimezone()
        start_runs(cli_client, deployment_id, waiting_queue)
        polls = QueuePolls(cli_client, pool, waiting_queue, waiting_since)
        watch.until(polls.twice, POLLS_BOUND, f"two polls of queue {waiting_queue} after its runs came", logs)
        watch.sample()
        waiting = [run.work_queue_name for run in watch.of(StateType.SCHEDULED)]
        assert waiting == [waiting_queue] * RUNS_PER_QUEUE, [(r.name, r.state_name) for r in watch.runs]

        # Once the gate opens the held runs end, and the waiting ones take their slots.
        (gate_dir / "open").touch()
        watch.until(watch.all_ended, FINISH_BOUND, "end of every run", logs)
        total = RUNS_PER_QUEUE * len(QUEUES)
        assert [run.state_type for run in watch.runs] == [StateType.COMPLETED] * total, watch.runs
        assert watch.peak_running == POOL_LIMIT, "never more Running at once than the pool admits"
        assert watch.peak_active == POOL_LIMIT, "nor more Pending, Running or Cancelling"

        # Each run's container is on the engine of the worker that took it, and that worker polls its queue.
        placed = flow_run_containers(hosts, unique)
        assert set(placed) == {str(run.id) for run in watch.runs}
        for run in watch.runs:
            host, attrs = placed[str(run.id)]
            worker = attrs["Config"]["Labels"]["io.prefect.worker-name"]
            assert worker == worker_of_host[host], f"{run.name} ran on {host}, started by {worker}"
            assert run.work_queue_name == queue_of_worker[worker]
            assert run.infrastructure_pid and run.infrastructure_pid.endswith(attrs["Id"])
            assert attrs["HostConfig"]["NetworkMode"] == "host"
        assert {host for host, _ in placed.values()} == set(hosts), "both hosts ran flow runs"
    finally:
        remove_runs(watch, hosts, unique)

    project.destroy("dev")
    left = [container.name for container in worker_containers(project.api_url, hosts)]
    assert not left, f"`pulumi destroy` left worker containers behind: {left}"

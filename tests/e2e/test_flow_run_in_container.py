"""The whole platform once, on real services: the dev stack's Prefect objects through the providers, its
worker container from the program's spec, the shipped prefect.yaml deployed with `prefect deploy`, and an
rpa3 run executed by that worker in a flow-run container of its own, calling the demo ERP within the
stack's limits and writing its results to the database on the mounted volume."""

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun

from flows.demo_erp.launcher import DemoErpProcess
from infra import config_keys
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from infra.worker_spec import worker_container_specs
from tests.support.docker_workers import docker_client_or_fail, start_worker
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.provider_protocol import DynamicProviderProcess
from tests.support.stack_up import PrefectObjects

pytestmark = pytest.mark.docker

ITEMS = 30


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A server of its own: this test uses the dev stack's real names (prefect.yaml names them), which the
    session server's other tests may use too."""
    home = tmp_path_factory.mktemp("e2e-server")
    server = PrefectServer(home=home / "home", port=free_port(), log_path=home / "server.log")
    server.start()
    yield server
    server.stop()


def dev_stack_for_test(server: PrefectServer, erp_url: str, data_dir: Path) -> StackSettings:
    """Pulumi.dev.yaml as shipped, but for the test's server, demo ERP and data directory, and with a worker
    that polls every 2 s on a free health port."""
    settings = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml")
    pool = settings.platform.pools[0]
    job_defaults = {
        **pool.job_defaults,
        "env": {**pool.job_defaults["env"], "RPA_ERP_API_URL": erp_url},
        "volumes": [f"{data_dir}:/data"],
    }
    workers = [
        w.model_copy(update={"poll_seconds": 2, "health_port": free_port()})
        for w in settings.platform.workers
    ]
    platform = settings.platform.model_copy(
        update={"pools": [pool.model_copy(update={"job_defaults": job_defaults})], "workers": workers}
    )
    config = settings.config.model_copy(update={"prefect_api_url": server.api_url, "platform": platform})
    return StackSettings(stack="dev", source=settings.source, config=config)


def wait_for_final_state(client: SyncPrefectClient, flow_run_id: str, timeout: float) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.state and flow_run.state.is_final():
            return flow_run
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} not finished after {timeout:.0f}s: {flow_run.state}")


def test_rpa3_runs_in_a_flow_run_container_started_by_the_stack_worker(
    own_server: PrefectServer, tmp_path: Path
) -> None:
    settings_image = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"]
    docker_client = docker_client_or_fail(str(settings_image))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    erp = DemoErpProcess(port=free_port())
    erp_admin = erp.start()
    settings = dev_stack_for_test(own_server, erp.url, data_dir)

    provider = DynamicProviderProcess(log_path=tmp_path / "provider.log")
    provider.start()
    provider.configure({config_keys.qualified(config_keys.API_URL): own_server.api_url})
    objects = PrefectObjects(provider, settings)
    containers = []
    try:
        assert set(objects.up()) == {"create"}
        containers = [start_worker(docker_client, spec) for spec in worker_container_specs(settings)]

        environment = {
            **os.environ,
            "PREFECT_API_URL": own_server.api_url,
            "PREFECT_HOME": str(own_server.home),
        }
        deploy = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--name", "rpa3/dev"],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr

        with SyncPrefectClient(own_server.api_url) as client:
            deployment = client.read_deployment_by_name("rpa3/dev")
            assert deployment.work_pool_name == "dev-rpa-docker"
            assert deployment.work_queue_name == "batch"
            flow_run = client.create_flow_run_from_deployment(deployment.id, parameters={"item_count": ITEMS})
            finished = wait_for_final_state(client, str(flow_run.id), timeout=240)
            logs = (
                ""
                if finished.state.is_completed()
                else "\n".join(c.logs(tail=60).decode() for c in containers)
            )
            assert finished.state.is_completed(), f"{finished.state}\n{logs}"
            assert finished.infrastructure_pid, "the worker started the run in infrastructure of its own"

        stats = erp_admin.stats()
        erp_limit = next(
            limit.limit for limit in settings.platform.concurrency_limits if limit.name == "erp-api"
        )
        assert stats.accepted >= ITEMS, "every item was reconciled against the ERP"
        assert stats.highest_concurrency <= erp_limit
        with sqlite3.connect(data_dir / "rpa-results.db") as database:
            (rows,) = database.execute("select count(*) from reconciliations").fetchone()
        assert rows == ITEMS, "the results outlive the flow-run container, on the stack's volume"
    finally:
        for container in containers:
            container.remove(force=True)
        objects.destroy()
        provider.stop()
        erp_admin.close()
        erp.stop()

"""The whole platform once, on real services, as `make local`, `make deploy` and `make run-rpa3-dev` do it:
`pulumi up` of the dev stack with its worker container (pulumi-docker's plugin), the prefect.yaml deployed
with `prefect deploy`, and an rpa3 run executed by that worker in a flow-run container of its own, calling the
demo ERP within the stack's limits and writing its results to the database on the mounted volume. Nobody
starts a worker by hand."""

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun

from infra.program.worker_spec import worker_container_specs
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file
from tests.support.docker_hosts import docker_client_or_fail
from tests.support.prefect_server import free_port
from tests.support.pulumi_cli import PulumiProject
from tests.support.stack_workers import logs_of, online_workers, wait_for
from tools.demo_erp.launcher import DemoErpProcess

pytestmark = pytest.mark.docker

ITEMS = 30


def for_this_test(erp_url: str, data_dir: Path) -> Callable[[dict], None]:
    """Pulumi.dev.yaml as shipped, but with the test's demo ERP and data directory."""

    def edit(platform: dict) -> None:
        defaults = platform["pools"][0]["jobDefaults"]
        defaults["env"]["RPA_ERP_API_URL"] = erp_url
        defaults["volumes"] = [f"{data_dir}:/data"]
        platform["workers"][0]["pollSeconds"] = 2

    return edit


def wait_for_final_state(client: SyncPrefectClient, flow_run_id: str, timeout: float) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.state and flow_run.state.is_final():
            return flow_run
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} not finished after {timeout:.0f}s: {flow_run.state}")


def test_rpa3_runs_in_a_flow_run_container_started_by_the_stack_worker(
    project_with_workers: PulumiProject, cli_client: SyncPrefectClient, tmp_path: Path
) -> None:
    project = project_with_workers
    image = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"]
    docker_client_or_fail(str(image))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    erp = DemoErpProcess(port=free_port())
    erp_admin = erp.start()
    try:
        project.edit_platform("dev", for_this_test(erp.url, data_dir))
        project.up("dev", "--policy-pack", "infra/policies")
        settings = from_stack_file(project.stack_file("dev"))
        workers = {spec.name for spec in worker_container_specs(settings)}
        wait_for(
            lambda: online_workers(cli_client, "dev-rpa-docker") == workers,
            120,
            f"the worker `up` made ({workers}) ONLINE",
            lambda: logs_of(project.api_url),
        )
        project.deploy("dev")

        deployment = cli_client.read_deployment_by_name("rpa3/dev")
        assert deployment.work_pool_name == "dev-rpa-docker"
        assert deployment.work_queue_name == "batch"
        flow_run = cli_client.create_flow_run_from_deployment(deployment.id, parameters={"item_count": ITEMS})
        finished = wait_for_final_state(cli_client, str(flow_run.id), timeout=240)
        logs = "" if finished.state.is_completed() else logs_of(project.api_url)
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
        for (
            deployment
        ) in cli_client.read_deployments():  # Deployments would keep the pool from being destroyed.
            cli_client.delete_deployment(deployment.id)
        erp_admin.close()
        erp.stop()

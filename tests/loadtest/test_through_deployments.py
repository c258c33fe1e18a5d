"""The load test through the stack's deployment, without Docker: a process work pool and a deployment of rpa3
from this checkout on the session's Prefect server, and a real process worker running the load's flow runs.
Items are counted from the runs' metrics artifacts. No timing asserted, but that a run queued behind the
deployment's limit was retried as the project's servers are told to, and followed the run before it sooner
than Prefect's own wait would have let it."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId, FlowRunFilterId
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, ConcurrencyOptions
from prefect.settings.models.server.deployments import ServerDeploymentsSettings

from tests.flows.stack import ENVIRONMENT
from tests.loadtest.support import ctrl_c, loadtest, loadtest_in_background, make_stack, output_path
from tests.support.process_worker import WORKER_SETTINGS, deploy_rpa3, running_worker
from tools.loadtest.route import NoDeploymentRoute, choose_route, deployment_name
from tools.loadtest.target import Target

RUNS, ITEMS = 2, 10


def test_auto_mode_runs_the_load_through_the_deployment_and_its_worker(prefect_server, tmp_path: Path):
    stack = make_stack(tmp_path)
    pool = deploy_rpa3(stack.name, ENVIRONMENT, stack.database_url)
    done = loadtest_through_worker(stack.name, pool, tmp_path)

    assert f"deployments: rpa3/{stack.name} in pool {pool}" in done.stdout
    [json_path] = tmp_path.glob(f"{stack.name}-*.json")
    result = json.loads(json_path.read_text())
    plan = result["plan"]
    assert plan["mode"] == "deployments" and plan["deployment"] == f"rpa3/{stack.name}"
    assert plan["work_pool"] == pool
    items = result["items"]
    assert items == {
        "planned": RUNS * ITEMS,
        "reconciled": RUNS * ITEMS,
        "counted_from": "metrics artifacts",
        "failed": 0,
        "error_rate": 0.0,
    }
    runs = result["flow_runs"]
    assert [(run["final_state"], run["items_done"], run["items_failed"]) for run in runs] == [
        ("Completed", ITEMS, 0)
    ] * RUNS
    concurrency, rate = result["observed"]
    assert 1 <= concurrency["highest_observed"] <= concurrency["allowed"] == 3 and concurrency["within"]
    assert rate["within"]
    assert result["erp"]["accepted"] == RUNS * ITEMS + RUNS  # each run's open items, then one call per item

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"rpa3/{stack.name}")
        ids = FlowRunFilterId(any_=[run["flow_run_id"] for run in runs])
        flow_runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=ids))
    assert {flow_run.deployment_id for flow_run in flow_runs} == {deployment.id}
    assert all("loadtest" in flow_run.tags for flow_run in flow_runs)
    # The runs' env was the deployment's with only the ERP changed: they wrote to the stack's database.
    rows = stack.query("SELECT item_id FROM reconciliations")
    assert len(rows) == RUNS * ITEMS
    assert {str(item_id).rsplit("-", 1)[0] for (item_id,) in rows} == {run["batch"] for run in runs}


def test_a_run_queued_behind_the_deployments_limit_follows_the_run_before_it(prefect_server, tmp_path: Path):
    stack = make_stack(tmp_path)
    pool = deploy_rpa3(stack.name, ENVIRONMENT, stack.database_url)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name(stack.name))
        # One run at a time, the others queued: what prefect.yaml gives rpa3/dev.
        enqueue = ConcurrencyOptions(collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
        client.update_deployment(
            deployment.id, DeploymentUpdate(concurrency_limit=1, concurrency_options=enqueue)
        )
    loadtest_through_worker(stack.name, pool, tmp_path)

    [json_path] = tmp_path.glob(f"{stack.name}-*.json")
    result = json.loads(json_path.read_text())
    assert [run["final_state"] for run in result["flow_runs"]] == ["Completed"] * RUNS
    # The second run waited for the first to end (the limit held) and took its slot then: one handover.
    [handover] = result["handovers"]
    assert handover["waits"] >= 1
    # The server put it back due within the worker's prefetch, so that every poll of the worker retried it
    # (with Prefect's 30 s, a retry only every 28 s) ...
    prefetch = float(WORKER_SETTINGS["PREFECT_WORKER_PREFETCH_SECONDS"])
    assert handover["retry_after_seconds"] <= prefetch, handover
    # ... and it took the slot sooner than Prefect's wait would have let it.
    prefects_wait = ServerDeploymentsSettings.model_fields["concurrency_slot_wait_seconds"].default
    assert 0 <= handover["to_slot_seconds"] < prefects_wait - prefetch, handover
    assert handover["to_slot_seconds"] <= handover["to_start_seconds"] <= handover["to_first_call_seconds"]


def test_without_an_online_worker_auto_runs_locally_and_deployments_mode_says_why(prefect_server, tmp_path):
    stack = make_stack(tmp_path)
    pool = deploy_rpa3(stack.name, ENVIRONMENT, stack.database_url)
    target = Target(stack=stack.name, environment=ENVIRONMENT, api_url=prefect_server.api_url)

    route = choose_route(target, "auto")
    assert route.mode == "local" and route.deployment is None
    assert route.reason == f"local: no online worker in pool {pool} of {deployment_name(stack.name)}"
    with pytest.raises(NoDeploymentRoute, match=f"no online worker in pool {pool}.*--mode local"):
        choose_route(target, "deployments")

    done = loadtest("--stack", stack.name, "--mode", "deployments", "--out-dir", str(tmp_path))
    assert done.returncode == 3, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"--mode deployments: no online worker in pool {pool} of rpa3/{stack.name}" in line
    assert not list(tmp_path.glob("*.json"))


def test_ctrl_c_cancels_the_loads_deployment_runs(prefect_server, tmp_path: Path):
    stack = make_stack(tmp_path)
    pool = deploy_rpa3(stack.name, ENVIRONMENT, stack.database_url)
    output = output_path(tmp_path)
    args = ("--stack", stack.name, "--flow-runs", str(RUNS), "--items", "2000", "--out-dir", str(tmp_path))
    with (
        running_worker(pool, tmp_path / "worker.log") as worker,
        loadtest_in_background(tmp_path, *args) as process,
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name(deployment_name(stack.name))
        of_deployment = FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id]))
        deadline = time.monotonic() + 300
        while not any(
            run.state_name == "Running" for run in client.read_flow_runs(flow_run_filter=of_deployment)
        ):
            assert process.poll() is None, f"{output.read_text()}\n{worker.log_tail()}"
            assert time.monotonic() < deadline, f"no run Running\n{output.read_text()}\n{worker.log_tail()}"
            time.sleep(0.5)
        ctrl_c(process, tmp_path)
        assert process.wait(timeout=180) == 130, f"{output.read_text()}\n{worker.log_tail()}"
        runs = client.read_flow_runs(flow_run_filter=of_deployment)
    assert len(runs) == RUNS
    # Every run ended, or stays Cancelling only where Prefect's runner missed its process ending by itself (a
    # Prefect 3.9 race): the output then names the command that frees its slot.
    output_text = output.read_text()
    for run in runs:
        assert run.state_name in ("Cancelled", "Cancelling"), f"{output_text}\n{worker.log_tail()}"
        if run.state_name == "Cancelling":
            assert f"operations.stuck_cancelling --cancel {run.id}" in output_text, output_text


def loadtest_through_worker(stack: str, pool: str, out_dir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m tools.loadtest` of RUNS x ITEMS on `stack`, with a process worker of `pool` running."""
    with running_worker(pool, out_dir / "worker.log") as worker:
        args = ("--stack", stack, "--flow-runs", str(RUNS), "--items", str(ITEMS), "--out-dir", str(out_dir))
        done = loadtest(*args, timeout=600, context=worker.log_tail)
        assert done.returncode == 0, f"{done.stdout}{done.stderr}\n{worker.log_tail()}"
    return done

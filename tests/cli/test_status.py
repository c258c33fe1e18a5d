"""`python -m infra.cli.status` on a stack brought up for real by `pulumi up`, against the package's fresh server:
the stack's numbers, drift made behind Pulumi's back, slots nothing holds, a run stuck in Cancelling keeping
its deployment's slot, and a server that does not answer. The command runs as a user runs it, in a child
process with no PREFECT_API_* in its environment: the stack file alone says where the API is."""

import json
import os
import time
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate, VariableUpdate, WorkPoolUpdate
from prefect.client.schemas.objects import WorkerStatus
from prefect.states import Cancelling, Completed, Pending, Running
from prefect.types._concurrency import ConcurrencyLeaseHolder

from infra import config_keys
from infra.program.worker_spec import worker_container_specs
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file, read_stack_document, stack_file
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.pulumi_cli import PLATFORM_KEY, PulumiProject, Result, run_command

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")


def status(project: PulumiProject, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API_")}
    command = [PYTHON, "-m", "infra.cli.status", "--dir", str(project.root), *args]
    return run_command(command, PROJECT_ROOT, {**environment, **(env or {})}, timeout=120)


def status_json(project: PulumiProject, *args: str) -> tuple[int, dict[str, Any]]:
    result = status(project, "--json", *args)
    assert result.returncode in (0, 1), result.describe()
    return result.returncode, json.loads(result.stdout)


def findings(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["object"]: finding for report in output["reports"] for finding in report["findings"]}


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_a_stack_just_brought_up_is_ok_and_shows_its_numbers(project: PulumiProject) -> None:
    project.up("dev")

    code, output = status_json(project, "dev")
    assert code == 0, output
    assert output["errors"] == []
    (report,) = output["reports"]
    assert report["ok"] and report["findings"] == []
    state = report["status"]
    assert state["api_url"] == project.api_url
    pool = by_name(state["pools"])["dev-rpa-docker"]
    assert (pool["concurrency_limit"], pool["active"], pool["paused"]) == (4, 0, False)
    queues = {queue["name"]: queue for queue in state["queues"]}
    assert (queues["critical"]["priority"], queues["critical"]["concurrency_limit"]) == (1, 2)
    assert (queues["batch"]["priority"], queues["batch"]["concurrency_limit"]) == (2, 4)
    limits = {
        name: (limit["limit"], limit["slot_decay_per_second"])
        for name, limit in by_name(state["limits"]).items()
    }
    assert limits == {"dev-erp-api": (5, 0.0), "dev-erp-api-rate": (10, 10.0), "dev-db-write": (1, 0.0)}
    variables = by_name(state["variables"])
    assert variables["development_rpa3_max_concurrent_tasks"]["held"] == 5
    assert all(
        variable["present"] and variable["held"] == variable["declared"] for variable in variables.values()
    )
    assert state["error_rate"]["finished"] == 0 and state["recent_runs"] == []
    # The tests' stack files leave their workers out (tests/support/pulumi_cli.py): none declared, none missing.
    assert state["workers"] == []

    tables = status(project, "dev")
    assert tables.returncode == 0, tables.describe()
    for shown in (
        "dev-rpa-docker",
        "0 / 4",
        "dev-erp-api",
        "0 / 5",
        "development_rpa3_timeout",
        "dev (development)",
    ):
        assert shown in tables.stdout, tables.describe()


def test_drift_behind_pulumis_back_is_flagged_with_make_up(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")
    cli_client.update_variable(VariableUpdate(name="development_rpa3_max_concurrent_tasks", value=42))
    cli_client.update_variable(VariableUpdate(name="development_rpa3_timeout", value=30.0))  # the same number
    cli_client.update_work_pool("dev-rpa-docker", WorkPoolUpdate(concurrency_limit=99))
    cli_client.update_global_concurrency_limit("dev-erp-api", GlobalConcurrencyLimitUpdate(limit=77))
    cli_client.delete_global_concurrency_limit_by_name("dev-db-write")
    critical = cli_client.read_work_queue_by_name("critical", work_pool_name="dev-rpa-docker")
    cli_client.update_work_queue(critical.id, priority=7)

    code, output = status_json(project, "dev")
    assert code == 1, output
    found = findings(output)
    assert set(found) == {
        "variable 'development_rpa3_max_concurrent_tasks'",
        "work pool 'dev-rpa-docker'",
        "global concurrency limit 'dev-erp-api'",
        "global concurrency limit 'dev-db-write'",
        "queue priorities of work pool 'dev-rpa-docker'",
    }, found
    assert all(
        finding["kind"] == "drift" and finding["command"] == "make up STACK=dev" for finding in found.values()
    )
    messages = {name: finding["message"] for name, finding in found.items()}
    assert messages["variable 'development_rpa3_max_concurrent_tasks'"] == (
        "platform.variables.rpa3_max_concurrent_tasks is 42 on the server, 5 in Pulumi.dev.yaml"
    )
    assert messages["work pool 'dev-rpa-docker'"] == (
        "platform.pools[0].concurrencyLimit is 99 on the server, 4 in Pulumi.dev.yaml"
    )
    assert messages["queue priorities of work pool 'dev-rpa-docker'"] == (
        "platform.queues[0].priority is 7 on the server, 1 in Pulumi.dev.yaml"
    )
    assert messages["global concurrency limit 'dev-db-write'"] == (
        "declared in Pulumi.dev.yaml (platform.concurrencyLimits[2]), missing on the server"
    )

    tables = status(project, "dev")
    assert tables.returncode == 1, tables.describe()
    assert "DRIFT variable 'development_rpa3_max_concurrent_tasks'" in tables.stdout, tables.describe()

    project.up("dev", "--refresh")
    code, output = status_json(project, "dev")
    assert code == 0 and findings(output) == {}, output


@flow
def held_by_hand() -> None:
    """A flow run outside any pool, as `python -m flows.rpa3` starts one."""


def test_slots_no_flow_run_can_hold_are_stuck_and_the_named_command_frees_them(
    project: PulumiProject, cli_client: SyncPrefectClient, cli_server: PrefectServer
) -> None:
    project.up("dev")
    # What a server that kept its leases in memory leaves after a restart: slots counted, no lease on them.
    cli_client.increment_concurrency_slots(names=["dev-erp-api"], slots=3, mode="concurrency")

    code, output = status_json(project, "dev")
    assert code == 1, output
    stuck = findings(output)
    limit = "global concurrency limit 'dev-erp-api'"
    assert list(stuck) == [limit], stuck
    assert stuck[limit]["kind"] == "stuck"
    assert stuck[limit]["command"] == "python -m operations.free_slots dev-erp-api 3"
    tables = status(project, "dev")
    assert tables.returncode == 1, tables.describe()
    assert f"STUCK {limit}" in tables.stdout, tables.describe()
    assert "python -m operations.free_slots dev-erp-api 3" in tables.stdout, tables.describe()

    free = run_command(
        stuck[limit]["command"].split(),
        PROJECT_ROOT,
        # As its user runs it: the project's venv activated, pointed at the stack's server.
        {
            **os.environ,
            "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
            "PREFECT_API_URL": cli_server.api_url,
        },
        timeout=120,
    )
    assert free.returncode == 0, free.describe()
    code, output = status_json(project, "dev")
    assert code == 0 and findings(output) == {}, output

    # A running flow run may hold counted slots (its lease is not visible to a client): not stuck.
    run = cli_client.create_flow_run(held_by_hand)
    cli_client.set_flow_run_state(run.id, Running(), force=True)
    holder = ConcurrencyLeaseHolder(type="flow_run", id=run.id)
    cli_client.increment_concurrency_slots_with_lease(
        names=["dev-db-write"], slots=1, mode="concurrency", lease_duration=60, holder=holder
    )
    code, output = status_json(project, "dev")
    assert code == 0 and findings(output) == {}, output
    # Nor once it ended lately, its lease not yet expired: the server gives those slots back by itself.
    cli_client.set_flow_run_state(run.id, Completed(), force=True)
    code, output = status_json(project, "dev")
    assert code == 0 and findings(output) == {}, output
    assert output["reports"][0]["status"]["runs_ended_lately"] == 1


def test_a_run_stuck_in_cancelling_is_flagged_with_the_command_that_gives_its_slot_back(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")
    flow_id = cli_client.create_flow_from_name("rpa3")
    deployment_id = cli_client.create_deployment(
        flow_id, "status-test", work_pool_name="dev-rpa-docker", concurrency_limit=1
    )
    try:
        run = cli_client.create_flow_run_from_deployment(deployment_id)
        for state in (
            Pending(),
            Running(),
            Cancelling(),
        ):  # orchestrated: Pending takes the deployment's slot
            assert cli_client.set_flow_run_state(run.id, state).status.value == "ACCEPT"

        # A threshold of 0 s: every run in Cancelling counts, with no waiting in the test.
        code, output = status_json(project, "dev", "--stuck-after", "0")
        assert code == 1, output
        stuck = findings(output)
        assert list(stuck) == [f"flow run {run.name} ({run.id})"], stuck
        (finding,) = stuck.values()
        assert finding["command"] == f"python -m operations.stuck_cancelling --cancel {run.id}"
        assert "keeping a slot of deployment rpa3/status-test (1 of 1 in use)" in finding["message"]
        deployment = by_name(output["reports"][0]["status"]["deployments"])["rpa3/status-test"]
        assert (deployment["active_slots"], deployment["concurrency_limit"]) == (1, 1)

        code, output = status_json(project, "dev")  # the default threshold: 120 s
        assert code == 0 and findings(output) == {}, output
    finally:
        cli_client.delete_deployment(deployment_id)  # the pool is not destroyed while a deployment targets it


def test_an_unreachable_api_or_an_invalid_stack_file_exits_2_with_one_line(project: PulumiProject) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    document = project.read_stack_file("staging")
    document["config"][config_keys.qualified(config_keys.API_URL)] = url
    project.write_stack_file("staging", document)

    result = status(project, "staging")
    assert result.returncode == 2, result.describe()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.describe()
    assert lines[0].startswith(f"staging (Pulumi.staging.yaml): cannot reach the Prefect API at {url} ("), (
        lines
    )
    assert "Traceback" not in result.output, result.describe()
    result = status(project, "staging", "--json")
    assert result.returncode == 2, result.describe()
    assert [error["stack"] for error in json.loads(result.stdout)["errors"]] == ["staging"]

    (project.root / "Pulumi.broken.yaml").write_text("config:\n  rpa-platform:environment: prod\n")
    result = status(project, "broken")
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("Pulumi.broken.yaml: invalid stack settings"), result.describe()
    assert "Traceback" not in result.output, result.describe()


def test_a_declared_worker_not_online_in_its_pool_is_flagged_with_make_up(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")  # without its worker containers, as every stack here (tests/support/pulumi_cli.py)
    bare = project.read_stack_file("dev")
    # Status reads the stack file alone: with the shipped file's workers in it again, dev declares a worker that
    # nothing runs, as after `docker rm` of its container.
    shipped = read_stack_document(stack_file("dev"))["config"][PLATFORM_KEY]["workers"]
    project.edit_platform("dev", lambda platform: platform.update(workers=shipped))
    try:
        (spec,) = worker_container_specs(from_stack_file(project.stack_file("dev")))
        flagged = f"worker {spec.name} in pool {spec.pool}"
        # A worker started by hand is online in the pool under another name: it stands in for no declared one.
        cli_client.send_worker_heartbeat(
            work_pool_name=spec.pool, worker_name="started-by-hand", heartbeat_interval_seconds=60
        )

        code, output = status_json(project, "dev")
        assert code == 1, output
        found = findings(output)
        assert list(found) == [flagged], found
        assert found[flagged]["kind"] == "offline"
        assert found[flagged]["command"] == "make up STACK=dev"
        workers = {
            (worker["pool"], worker["name"]): worker for worker in output["reports"][0]["status"]["workers"]
        }
        missing = workers[spec.pool, spec.name]
        assert (missing["declared"], missing["present"], missing["online"]) == (True, False, False), missing
        by_hand = workers[spec.pool, "started-by-hand"]
        assert (by_hand["declared"], by_hand["online"]) == (False, True), by_hand

        tables = status(project, "dev")
        assert tables.returncode == 1, tables.describe()
        (line,) = [line for line in tables.stdout.splitlines() if line.startswith(f"OFFLINE {flagged}")]
        assert "make up STACK=dev" in line, tables.describe()
        (row,) = [line for line in tables.stdout.splitlines() if spec.name in line and "│" in line]
        assert "missing" in row, tables.describe()  # the workers table shows the one the server lacks

        # A worker of that name online in its pool, as the container's `prefect worker start` makes one.
        cli_client.send_worker_heartbeat(
            work_pool_name=spec.pool, worker_name=spec.name, heartbeat_interval_seconds=60
        )
        code, output = status_json(project, "dev")
        assert code == 0 and findings(output) == {}, output
        tables = status(project, "dev")
        assert tables.returncode == 0, tables.describe()
        assert "OFFLINE" not in tables.stdout and "make up" not in tables.stdout, tables.describe()

        # Registered but silent: the server's foreman marks it OFFLINE after three missed heartbeats.
        cli_client.send_worker_heartbeat(
            work_pool_name=spec.pool, worker_name=spec.name, heartbeat_interval_seconds=1
        )
        wait_offline(cli_client, spec.pool, spec.name)
        code, output = status_json(project, "dev")
        assert code == 1, output
        found = findings(output)
        assert list(found) == [flagged], found
        assert "offline, its last heartbeat" in found[flagged]["message"], found
    finally:
        project.write_stack_file("dev", bare)  # what the stack was brought up with, for its destroy


def wait_offline(client: SyncPrefectClient, pool: str, name: str, bound_seconds: float = 180) -> None:
    """Until the server shows the worker OFFLINE: its foreman looks every 15 s (a bound on hangs, not speed)."""
    deadline = time.monotonic() + bound_seconds
    while time.monotonic() < deadline:
        workers = {worker.name: worker for worker in client.read_workers_for_work_pool(pool)}
        if workers[name].status == WorkerStatus.OFFLINE:
            return
        time.sleep(1)
    raise AssertionError(f"worker {name} still online in {pool} after {bound_seconds:g} s: {workers[name]}")

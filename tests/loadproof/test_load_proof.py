"""The load proof: thousands of rpa3 items through the whole platform, on a Prefect server on SQLite or on
PostgreSQL.

A copy of the project is applied with the real `pulumi up` (dev's stack file, with limits sized for load),
which also makes its workers through pulumi-docker's plugin: one container on each of two Docker hosts (this
machine's engine and a second one); the rpa3 deployment is deployed with `prefect deploy`; `make loadtest`'s
driver (`python -m tools.loadtest --mode deployments`) then starts concurrent flow runs through that
deployment against a demo ERP that enforces the stack's limits itself. Measured at the ERP and in the results
database: no call above the concurrency limit or the rate, every item reconciled exactly once, the runs
executed by workers on both hosts, and the throughput against the ideal one.

`RPA_LOADPROOF_TASKS` (default 2,000: CI's shortened proof) and `RPA_LOADPROOF_DATABASES` (default
`sqlite`); `make loadproof` runs 10,000 on both. Each run's summary goes to `RPA_LOADPROOF_OUT` (default
loadtest-results/) as loadproof-<database>-<time>.json."""

import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient

from infra.program.worker_spec import worker_container_specs
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file
from rpa_naming import ERP_API, ERP_API_RATE, concurrency_limit_name
from tests.loadproof.breakdown import Limits, breakdown, describe, read_calling_runs
from tests.loadproof.limit_samples import LimitSampler
from tests.support.docker_hosts import (
    FIRST_DOCKER_HOST,
    docker_client_or_fail,
    ensure_image,
    remove_labelled_containers,
    second_docker_host,
)
from tests.support.prefect_server import server_on
from tests.support.pulumi_cli import PulumiProject
from tests.support.stack_workers import remove_worker_containers
from tests.support.worker_events import workers_of_flow_runs
from tools.demo_erp.timeline import ErpTimeline

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TASKS = int(os.environ.get("RPA_LOADPROOF_TASKS", "2000"))
DATABASES = os.environ.get("RPA_LOADPROOF_DATABASES", "sqlite").split()
OUT_DIR = Path(os.environ.get("RPA_LOADPROOF_OUT", PROJECT_ROOT / "loadtest-results"))
FLOW_RUNS = 3
ERP_LATENCY_SECONDS = 0.05
# Sized for load: 10 calls in flight and 100 calls per second (a bucket of 100) to the ERP; the pool and the
# deployment admit the three runs at once, and each of the two workers runs two at most, so both work.
ERP_API_LIMIT = 10
RATE_PER_SECOND = 100
POOL_LIMIT = 4
WORKER_LIMIT = 2
WIDTH = 10
LOAD_BOUND_SECONDS = 3600  # a bound on a hang: 10,000 items take minutes
# Of the ideal throughput (the rate), over the ERP's busy span: 0.70-0.72 before issue 20's fix. Held by the
# whole proof (`make loadproof`, a measurement on a quiet machine); the shortened one only reports it: its runs
# start and finish seconds apart (containers), which weighs more in 20 s than in 150 s, and with both cores
# busy it fell between 0.65 and 0.90 on the same code. The mechanisms are guarded on a manual clock
# (tests/runtime: three runs reach the rate, slots left over go to who wants them).
THROUGHPUT_FLOOR = 0.9 if TASKS >= 10_000 else None
MAX_GRANTED_PER_SPENT = 1.05  # rate tokens the flow runs threw away, at most, of those they used


def sized_for_load(erp_url: str, data_dir: Path) -> Any:
    def edit(platform: dict[str, Any]) -> None:
        pool = platform["pools"][0]
        pool["concurrencyLimit"] = POOL_LIMIT
        pool["jobDefaults"]["env"]["RPA_ERP_API_URL"] = erp_url
        pool["jobDefaults"]["volumes"] = [f"{data_dir}:/data"]
        for queue in platform["queues"]:
            queue["concurrencyLimit"] = POOL_LIMIT
        platform["variables"]["rpa3_max_concurrent_tasks"] = WIDTH
        platform["variables"]["rpa3_timeout"] = 300
        platform["concurrencyLimits"] = [
            {"name": "erp-api", "limit": ERP_API_LIMIT},
            {"name": "erp-api-rate", "limit": RATE_PER_SECOND, "slotDecayPerSecond": RATE_PER_SECOND},
            {"name": "db-write", "limit": 1},
        ]

    return edit


def rpa3_dev_admitting(project: PulumiProject, runs: int) -> None:
    """The copy's prefect.yaml with rpa3/dev admitting `runs` flow runs at once (dev ships 1)."""
    path = project.root / "prefect.yaml"
    document = yaml.safe_load(path.read_text())
    (rpa3,) = (d for d in document["deployments"] if d["name"] == "dev" and "rpa3" in d["entrypoint"])
    rpa3["concurrency_limit"] = {"limit": runs, "collision_strategy": "ENQUEUE"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def on_two_hosts(hosts: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    """dev's worker entry made one per Docker host, polling often."""

    def edit(platform: dict[str, Any]) -> None:
        (shipped,) = platform["workers"]
        platform["workers"] = [
            {**shipped, "dockerHost": host, "limit": WORKER_LIMIT, "pollSeconds": 2} for host in hosts
        ]

    return edit


@pytest.mark.timeout(LOAD_BOUND_SECONDS + 900)  # the load's own bound, and the stack's setup around it
@pytest.mark.parametrize("database", DATABASES)
def test_thousands_of_items_through_workers_on_two_hosts_within_the_limits(
    database: str, tmp_path: Path
) -> None:
    image = str(from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml").platform.pools[0].job_defaults["image"])
    docker_client_or_fail(image)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    items_per_run = math.ceil(TASKS / FLOW_RUNS)
    with second_docker_host() as second, server_on(database, tmp_path / "server") as server:
        ensure_image(second, image)
        hosts = (FIRST_DOCKER_HOST, second)
        project = PulumiProject.copy(tmp_path, server.api_url, workers=True)
        # The load test's own ERP replaces this URL in the runs' job variables.
        project.edit_platform("dev", sized_for_load("http://127.0.0.1:9", data_dir))
        project.edit_platform("dev", on_two_hosts(hosts))
        rpa3_dev_admitting(project, FLOW_RUNS)
        # No `pulumi destroy` after: the server (and what the stack made on it) is this test's alone, and the
        # workers `up` made are removed from both hosts directly, even when `up` made only some.
        try:
            project.up("dev", "--policy-pack", "infra/policies")
            specs = worker_container_specs(from_stack_file(project.stack_file("dev")))
            host_of_worker = {spec.name: spec.docker_host for spec in specs}
            project.deploy("dev")
            with SyncPrefectClient(server.api_url) as client:
                deployment = client.read_deployment_by_name("rpa3/dev")
            try:
                started = time.time()
                erp_limits = (
                    concurrency_limit_name("dev", ERP_API),
                    concurrency_limit_name("dev", ERP_API_RATE),
                )
                with LimitSampler(server.api_url, *erp_limits) as limits:
                    result, output = _load(server.api_url, items_per_run, tmp_path / "load")
                elapsed = time.time() - started
                with SyncPrefectClient(server.api_url) as client:
                    run_ids = [run["flow_run_id"] for run in result["flow_runs"]]
                    workers = workers_of_flow_runs(client, run_ids)
                    calling_runs = read_calling_runs(client, run_ids)
            finally:  # a run the load left going (a failure, the bound) keeps no container on either host
                remove_labelled_containers(hosts, f"io.prefect.deployment-id={deployment.id}")
        finally:
            remove_worker_containers(server.api_url, hosts)

    planned = items_per_run * FLOW_RUNS
    erp = result["erp"]
    rows = _reconciliations(data_dir / "rpa-results.db", [run["batch"] for run in result["flow_runs"]])
    ideal_items_per_second = min(ERP_API_LIMIT / ERP_LATENCY_SECONDS, RATE_PER_SECOND)
    timeline = ErpTimeline.model_validate(result["timeline"])
    where = breakdown(
        timeline, limits.samples, calling_runs, Limits(ERP_API_LIMIT, RATE_PER_SECOND, RATE_PER_SECOND)
    )
    summary = {
        "database": database,
        "tasks": planned,
        "flow_runs": FLOW_RUNS,
        "docker_hosts": hosts,
        "workers_by_flow_run": workers,
        "limits": {"erp_api": ERP_API_LIMIT, "rate_per_second": RATE_PER_SECOND, "width": WIDTH},
        "erp_latency_seconds": ERP_LATENCY_SECONDS,
        "items_reconciled_in_database": len(rows),
        "distinct_items_in_database": len({item for item, _ in rows}),
        "erp": erp,
        "observed": result["observed"],
        "throughput": result["throughput"],
        "ideal_items_per_second": ideal_items_per_second,
        "throughput_over_ideal": result["throughput"]["items_per_second"] / ideal_items_per_second,
        "load_seconds": round(elapsed, 1),
        "where_the_rate_went": where,
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"loadproof-{database}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"\nload proof on {database}: {json.dumps(summary)}\n{describe(where)}\nwritten to {out}")

    failed = [run for run in result["flow_runs"] if run["final_state"] != "Completed"]
    assert not failed, f"{failed}\nthe load test's output, its end:\n{output[-4000:]}"
    assert erp["rejected_for_concurrency"] == 0 and erp["rejected_for_rate"] == 0, erp
    assert all(observation["within"] for observation in result["observed"]), result["observed"]
    assert len(rows) == planned  # every item reconciled and recorded, once (item_id is the key) ...
    for run in result["flow_runs"]:  # ... each batch whole, written by one flow run of its own
        batch_rows = [(item, writer) for item, writer in rows if item.startswith(f"{run['batch']}-")]
        assert len(batch_rows) == items_per_run and len({writer for _, writer in batch_rows}) == 1, run
    # ... exactly once: one reconciliation call accepted per item, plus each run's listing of its items.
    assert erp["accepted"] == planned + FLOW_RUNS, erp
    # Both hosts' workers ran flow runs (the worker's name says which host the stack put it on).
    assert {host_of_worker[worker] for worker in workers.values()} == set(hosts), workers
    # The rate reached, with few of its tokens thrown away.
    assert len(where["runs"]) == FLOW_RUNS and all(run["tokens"] for run in where["runs"]), where["runs"]
    tokens = where["tokens"]
    assert tokens["granted"] <= MAX_GRANTED_PER_SPENT * tokens["spent"], tokens
    if THROUGHPUT_FLOOR is not None:
        assert summary["throughput_over_ideal"] >= THROUGHPUT_FLOOR, describe(where)


def _load(api_url: str, items_per_run: int, out_dir: Path) -> tuple[dict[str, Any], str]:
    """The load test's result, and what it printed (each failed run's state message among it)."""
    command = [
        sys.executable,
        "-m",
        "tools.loadtest",
        "--stack=dev",
        "--mode=deployments",
        f"--flow-runs={FLOW_RUNS}",
        f"--items={items_per_run}",
        f"--erp-latency={ERP_LATENCY_SECONDS}",
        f"--out-dir={out_dir}",
    ]
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    log = out_dir.with_suffix(".log")
    out_dir.mkdir(parents=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=LOAD_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            code = None
    text = log.read_text(errors="replace")
    assert code == 0, f"load test exited {code}:\n{text[-6000:]}"
    (result,) = out_dir.glob("dev-*.json")
    return json.loads(result.read_text()), text


def _reconciliations(database: Path, batches: list[str]) -> list[tuple[str, str]]:
    """(item_id, flow_run_id) of the load's items in the results database."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT item_id, flow_run_id FROM reconciliations").fetchall()
    return [(item, run) for item, run in rows if any(item.startswith(f"{batch}-") for batch in batches)]

"""`python -m tools.loadtest` for real: against the session's Prefect server, a stack made the way
tests/flows/stack.py makes one, flow runs as processes and the load test's own demo ERP. No timing asserted."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy
from matplotlib import image
from prefect.client.orchestration import get_client

from rpa_naming import flow_variable_name
from tests.flows.stack import ENVIRONMENT, StackUnderTest
from tests.loadtest.support import WIDTH, ctrl_c, loadtest, loadtest_in_background, make_stack, output_path
from tests.support.processes import command_of, descendants, is_running
from tools.loadtest.result import StepOutcome
from tools.loadtest.step_up import find_knee

ERP_GONE_BOUND_SECONDS = 30  # it notices within half a second and stops within one


def test_a_short_load_writes_consistent_figures_and_a_picture(prefect_server, tmp_path):
    stack = make_stack(tmp_path)
    done = loadtest("--stack", stack.name, "--flow-runs", "2", "--items", "20", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr

    [json_path] = tmp_path.glob(f"{stack.name}-*.json")
    result = json.loads(json_path.read_text())
    items = result["items"]
    assert items["planned"] == 40
    assert items["reconciled"] + items["failed"] == items["planned"]
    assert items["reconciled"] == 40 and items["counted_from"] == "results database"
    assert result["plan"]["mode"] == "local" and result["plan"]["mode_reason"].startswith("local: ")
    assert result["limits"]["erp_api"] == 3 and result["limits"]["max_concurrent_tasks"] == WIDTH
    erp = result["erp"]
    # Every item is one accepted reconciliation, and each run fetched its open items once.
    assert erp["accepted"] == 40 + 2
    assert erp["arrivals"] == erp["accepted"] + erp["rejected_for_concurrency"] + erp["rejected_for_rate"]
    assert erp["latency_p50_seconds"] <= erp["latency_p95_seconds"]
    concurrency, rate = result["observed"]
    assert concurrency["limit"] == f"{stack.name}-erp-api" and concurrency["allowed"] == 3
    assert 1 <= concurrency["highest_observed"] <= 3 and concurrency["within"]
    assert rate["limit"] == f"{stack.name}-erp-api-rate" and rate["within"]
    assert result["throughput"]["items_per_second"] > 0
    assert [run["final_state"] for run in result["flow_runs"]] == ["Completed", "Completed"]
    assert result["run_states"] and result["run_states"][-1]["counts"] == {"Completed": 2}
    timeline = result["timeline"]["buckets"]
    assert sum(bucket["accepted"] for bucket in timeline) == erp["accepted"]
    assert max(bucket["highest_concurrency"] for bucket in timeline) == concurrency["highest_observed"]

    picture = Path(result["picture"])
    assert picture == json_path.with_suffix(".png")
    pixels = image.imread(picture)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert len(numpy.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # not blank


def test_step_up_restores_the_width_variable_and_the_limit(prefect_server, tmp_path):
    stack = make_stack(tmp_path, erp_api=4)
    done = loadtest(
        "--stack",
        stack.name,
        "--flow-runs",
        "1",
        "--step-items",
        "8",
        "--step-up",
        "2:3",
        "--out-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored" in done.stdout

    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(stack.limit_name("erp-api")).limit == 4
        width = client.read_variable_by_name(flow_variable_name(ENVIRONMENT, "rpa3", "max_concurrent_tasks"))
        assert width is not None and width.value == WIDTH
    [summary_path] = tmp_path.glob(f"{stack.name}-*-step-up.json")
    summary = json.loads(summary_path.read_text())
    assert [step["value"] for step in summary["steps"]] == [2, 3]
    assert summary["restored"] == {
        flow_variable_name(ENVIRONMENT, "rpa3", "max_concurrent_tasks"): WIDTH,
        f"{stack.name}-erp-api": 4,
    }
    assert len(list(tmp_path.glob(f"{stack.name}-*-step[23].png"))) == 2


def test_missing_stack_objects_say_to_run_make_local(prefect_server, tmp_path):
    stack = StackUnderTest(name=f"t{uuid.uuid4().hex[:8]}", database_path=tmp_path / "unused.db")
    stack.create_limits(erp_api=2)  # the rate and db-write limits are missing
    done = loadtest("--stack", stack.name, "--out-dir", str(tmp_path))
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert f"limit {stack.name}-erp-api-rate" in line and f"limit {stack.name}-db-write" in line
    assert f"make local STACK={stack.name}" in line
    assert not list(tmp_path.iterdir())


def test_bad_input_is_one_line_before_anything_changes(prefect_server, tmp_path):
    stack = make_stack(tmp_path)
    for args, problem in (
        (["--flow-runs", "0"], "--flow-runs 0"),
        (["--step-up", "0:4"], "--step-up '0:4'"),
        (["--step-up", "8:4"], "--step-up '8:4'"),
    ):
        done = loadtest("--stack", stack.name, *args, "--out-dir", str(tmp_path))
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert problem in line
    assert not list(tmp_path.iterdir())


def test_a_limit_of_0_is_refused_before_any_flow_run(prefect_server, tmp_path):
    stack = make_stack(tmp_path, erp_api=0)
    done = loadtest("--stack", stack.name, "--out-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"{stack.name}-erp-api=0" in line and "admit nothing" in line
    assert not list(tmp_path.iterdir())


def test_an_unknown_stack_is_one_line(prefect_server, tmp_path):
    # Without PREFECT_API_URL the stack's file names its API: there is none for this stack.
    environment = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "tools.loadtest", "--stack", "nosuchstack", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "nosuchstack" in line
    assert not list(tmp_path.iterdir())


def test_step_up_restores_the_settings_after_ctrl_c(prefect_server, tmp_path):
    stack = make_stack(tmp_path, erp_api=4)
    width_name = flow_variable_name(ENVIRONMENT, "rpa3", "max_concurrent_tasks")
    output = output_path(tmp_path)
    args = ("--stack", stack.name, "--flow-runs", "1", "--step-items", "200", "--step-up", "2:3")
    with (
        loadtest_in_background(tmp_path, *args, "--out-dir", str(tmp_path)) as process,
        get_client(sync_client=True) as client,
    ):
        # Interrupted once the first step has set its values on the server.
        deadline = time.monotonic() + 120
        while client.read_global_concurrency_limit_by_name(stack.limit_name("erp-api")).limit != 2:
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        ctrl_c(process, tmp_path)
        assert process.wait(timeout=120) == 130, output.read_text()
        assert "restored" in output.read_text()
        assert client.read_global_concurrency_limit_by_name(stack.limit_name("erp-api")).limit == 4
        width = client.read_variable_by_name(width_name)
        assert width is not None and width.value == WIDTH


def test_a_killed_load_test_leaves_no_demo_erp_running(prefect_server, tmp_path):
    """Killed as a bound that ran out kills it (SIGKILL to its group): none of its cleanup runs, and its demo
    ERP, in a session of its own, ends by itself."""
    stack = make_stack(tmp_path)
    output = output_path(tmp_path)
    args = ("--stack", stack.name, "--flow-runs", "1", "--items", "20", "--out-dir", str(tmp_path))
    with loadtest_in_background(tmp_path, *args) as process:
        deadline = time.monotonic() + 120
        while not (
            erps := [pid for pid in descendants(process.pid) if "tools.demo_erp" in (command_of(pid) or "")]
        ):
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    [erp] = erps
    deadline = time.monotonic() + ERP_GONE_BOUND_SECONDS
    while is_running(erp):
        assert time.monotonic() < deadline, f"the demo ERP ({command_of(erp)}) outlived its killed load test"
        time.sleep(0.1)


def test_the_knee_is_where_throughput_stops_growing_or_errors_start():
    def step(value: int, rate: float, gain: float | None, errors: float = 0.0) -> StepOutcome:
        return StepOutcome(
            value=value, items_per_second=rate, gain=gain, error_rate=errors, share_429=0.0, result_file=""
        )

    growing = [step(2, 4.0, None), step(4, 8.0, 1.0), step(6, 8.2, 0.025), step(8, 8.3, 0.01)]
    assert find_knee(growing)[0::2] == (6, 4)
    failing = [step(2, 4.0, None), step(4, 8.0, 1.0, errors=0.1)]
    assert find_knee(failing)[0::2] == (4, 2)
    assert find_knee(growing[:2]) == (None, None, 4)

"""A deployed run whose environment does not name its stack fails at once, for real: a deployment of rpa3
without RPA_STACK / RPA_ENVIRONMENT in a process pool, run by a real process worker, ends Failed with the
error that says where to set them, before any task ran (it never reached the dev stack's Variables)."""

import os
import time
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.rpa3.flow import rpa3
from rpa_naming import ENV_PREFIX, STACK_ENV_VAR
from tests.support.process_worker import create_process_pool, deploy_from_checkout, running_worker

FINAL_BOUND_SECONDS = 600  # a bound on a hang: Failed within about 20 s of its creation on a quiet machine


def test_a_deployed_run_without_its_stack_fails_at_once_naming_it(
    prefect_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # The worker passes its own environment on to the runs it starts: it must not name a stack either.
    for name in [n for n in os.environ if n.upper().startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    pool = f"t{uuid.uuid4().hex[:8]}-process"
    create_process_pool(pool)
    deployment = deploy_from_checkout(rpa3, "flows/rpa3/flow.py:rpa3", name="no-stack", pool=pool, env={})

    with running_worker(pool, tmp_path / "worker.log") as worker, get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(deployment, parameters={"item_count": 1})
        deadline = time.monotonic() + FINAL_BOUND_SECONDS
        while not (run := client.read_flow_run(run.id)).state.is_final():
            assert time.monotonic() < deadline, f"run still {run.state.name}\n{worker.log_tail()}"
            time.sleep(1)
        assert run.state.is_failed(), f"{run.state}\n{worker.log_tail()}"
        assert f"{STACK_ENV_VAR} and RPA_ENVIRONMENT not set" in run.state.message
        assert "prefect.yaml" in run.state.message
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        assert task_runs == []

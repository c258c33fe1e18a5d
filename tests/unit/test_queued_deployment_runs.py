"""A flow run queued behind its deployment's concurrency limit (ENQUEUE) takes a freed slot at the next poll
of a worker: every Prefect server the project starts puts such a run back due within the workers' prefetch
(not Prefect's 30 s), and every worker polls as often as its stack file says. The timing itself is measured
through a real worker in tests/loadtest/test_through_deployments.py."""

import httpx
import pytest
from prefect.settings.models.server.deployments import ServerDeploymentsSettings
from prefect.settings.models.worker import WorkerSettings
from pydantic import BaseModel

from infra.program.server_spec import server_spec
from infra.program.worker_spec import worker_container_specs
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS, from_stack_file, parse_stack_settings
from local_prefect_server.server_settings import (
    DEPLOYMENT_SLOT_WAIT_SECONDS,
    DEPLOYMENT_SLOT_WAIT_SETTING,
    server_settings,
)
from tests.support.prefect_server import PrefectServer
from tests.support.self_hosted_stack import SOURCE, STACK, example_raw

QUERY_SECONDS = "PREFECT_WORKER_QUERY_SECONDS"
PREFETCH_SECONDS = "PREFECT_WORKER_PREFETCH_SECONDS"


def prefect_default(model: type[BaseModel], field: str) -> float:
    default = model.model_fields[field].default
    assert isinstance(default, int | float)
    return default


DEFAULT_PREFETCH = prefect_default(WorkerSettings, "prefetch_seconds")


def test_the_wait_is_shorter_than_prefects_and_within_a_workers_prefetch() -> None:
    # A worker takes runs due within int(its prefetch) (prefect/workers/base.py, _get_scheduled_flow_runs).
    assert int(DEFAULT_PREFETCH) >= DEPLOYMENT_SLOT_WAIT_SECONDS
    assert (
        prefect_default(ServerDeploymentsSettings, "concurrency_slot_wait_seconds")
        > DEPLOYMENT_SLOT_WAIT_SECONDS
    )


def test_make_server_and_the_tests_servers_set_it(tmp_path) -> None:
    assert server_settings(tmp_path)[DEPLOYMENT_SLOT_WAIT_SETTING] == str(DEPLOYMENT_SLOT_WAIT_SECONDS)


def test_a_stacks_own_server_sets_it() -> None:
    spec = server_spec(parse_stack_settings(STACK, SOURCE, example_raw()))
    assert spec is not None
    assert spec.server.env[DEPLOYMENT_SLOT_WAIT_SETTING] == str(DEPLOYMENT_SLOT_WAIT_SECONDS)


def test_the_session_server_applies_it(prefect_server: PrefectServer) -> None:
    settings = httpx.get(f"{prefect_server.api_url}/admin/settings", timeout=10).json()
    assert settings["server"]["deployments"]["concurrency_slot_wait_seconds"] == DEPLOYMENT_SLOT_WAIT_SECONDS


@pytest.mark.parametrize("stack", STACKS)
def test_workers_poll_as_their_stack_file_says(stack: str) -> None:
    settings = from_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml")
    polls = [worker.poll_seconds for worker in settings.platform.workers for _ in range(worker.replicas)]
    specs = worker_container_specs(settings)
    # Declared in every shipped stack file: left out, a worker would poll at Prefect's 10 s.
    assert None not in polls, f"Pulumi.{stack}.yaml: a worker without pollSeconds"
    assert [spec.env[QUERY_SECONDS] for spec in specs] == [str(poll) for poll in polls]
    for spec in specs:
        prefetch = int(spec.env.get(PREFETCH_SECONDS, DEFAULT_PREFETCH))
        assert prefetch >= DEPLOYMENT_SLOT_WAIT_SECONDS, f"{spec.name} would take a queued run late"

"""A flow run stuck in Cancelling keeps its deployment's slot, so every new run of a CANCEL_NEW deployment is
cancelled. `python -m operations.stuck_cancelling` finds it and names the command that gives the slot back;
that command does, and refuses once the slot was reclaimed already (Prefect would give back another run's)."""

import os
import subprocess
import sys
from uuid import UUID

import pytest
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, ConcurrencyOptions, StateType
from prefect.states import Cancelling, Pending, Running

from tests.support.bounded_process import run_bounded

COMMAND_BOUND_SECONDS = 120  # a bound on a hang: each command takes a few seconds on a quiet machine


def stuck_cancelling(*args: str) -> subprocess.CompletedProcess[str]:
    return run_bounded(
        [sys.executable, "-m", "operations.stuck_cancelling", *args],
        COMMAND_BOUND_SECONDS,
        env=dict(os.environ),
    )


@pytest.fixture
def cancel_new_deployment(client, unique) -> UUID:
    """A deployment with one slot that cancels new runs while it is taken."""
    flow_id = client.create_flow_from_name(f"stuck-{unique}")
    options = ConcurrencyOptions(collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    return client.create_deployment(flow_id, "dev", concurrency_limit=1, concurrency_options=options)


def start_run(client, deployment_id: UUID) -> tuple[UUID, StateType]:
    run = client.create_flow_run_from_deployment(deployment_id)
    return run.id, client.set_flow_run_state(run.id, Pending()).state.type


def stuck_run(client, deployment_id: UUID) -> UUID:
    """A run stuck in Cancelling, as when its worker is gone; Pending took the slot, as a worker's submission
    does."""
    run_id, state = start_run(client, deployment_id)
    assert state is StateType.PENDING
    for proposed in (Running(), Cancelling()):
        assert client.set_flow_run_state(run_id, proposed).state.type is proposed.type
    return run_id


def test_a_run_stuck_in_cancelling_is_found_and_its_slot_given_back(client, cancel_new_deployment):
    stuck = stuck_run(client, cancel_new_deployment)
    assert start_run(client, cancel_new_deployment)[1] is StateType.CANCELLED  # the slot is kept from it

    found = stuck_cancelling("--older-than", "0")
    assert found.returncode == 1, found.stderr
    assert f"`python -m operations.stuck_cancelling --cancel {stuck}`" in found.stdout
    assert "new runs are cancelled" in found.stdout

    released = stuck_cancelling("--cancel", str(stuck))
    assert released.returncode == 0, released.stdout + released.stderr
    assert client.read_flow_run(stuck).state.type is StateType.CANCELLED
    assert client.read_deployment(cancel_new_deployment).global_concurrency_limit.active_slots == 0
    assert start_run(client, cancel_new_deployment)[1] is StateType.PENDING


def test_a_slot_reclaimed_already_is_not_given_back_twice(client, cancel_new_deployment):
    stuck = stuck_run(client, cancel_new_deployment)
    limit = client.read_deployment(cancel_new_deployment).global_concurrency_limit.name
    freed = run_bounded(  # what Prefect does once the stuck run's lease has run out
        [sys.executable, "-m", "operations.free_slots", limit, "1"],
        COMMAND_BOUND_SECONDS,
        env=dict(os.environ),
    )
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert start_run(client, cancel_new_deployment)[1] is StateType.PENDING  # the slot is another run's now

    refused = stuck_cancelling("--cancel", str(stuck))
    assert refused.returncode != 0
    assert "reclaimed already" in refused.stderr
    assert client.read_flow_run(stuck).state.type is StateType.CANCELLING
    assert client.read_deployment(cancel_new_deployment).global_concurrency_limit.active_slots == 1

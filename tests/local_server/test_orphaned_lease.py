"""A server killed between writing a lease and recording its expiry keeps no slot counted for good.

Prefect 3.9.1's filesystem storage commits the slot count, writes the lease file, then the expiry index, and
its repossessor reads only the index: killed between the last two writes, the lease is never revoked. The
crash state is built by hand here: a lease whose time has run out, in a file the index does not hold, and a
restart. The project's storage (local_prefect_server/lease_files.py) frees the slots; Prefect's, the
control, shows the state is the one that used to leak."""

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import ConcurrencyLeaseHolder

from local_prefect_server.server_settings import FILESYSTEM_LEASES
from tests.support.ports import free_port
from tests.support.prefect_server import PrefectServer
from tests.support.stack_workers import wait_for

PREFECTS_FILESYSTEM_LEASES = "prefect.server.concurrency.lease_storage.filesystem"
LIMIT = "orphan-probe"
# Bounds on a hang: the repossessor looks every 2 s, but a loaded machine may run it late.
FREED_BOUND_SECONDS = 120
# How long the control is watched for a revocation that must not come: several repossessor loops.
CONTROL_WATCH_SECONDS = 10


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PrefectServer]:
    server = PrefectServer(
        home=tmp_path / "home",
        port=free_port(),
        log_path=tmp_path / "server.log",
        lease_storage=request.param,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("server", [FILESYSTEM_LEASES], indirect=True)
def test_a_lease_the_index_never_recorded_is_revoked_after_a_restart(server: PrefectServer) -> None:
    lease_id = crash_while_leasing(server)
    print(f"lease files after the crash: {sorted(path.name for path in leases_dir(server).iterdir())}")
    restarted_at = time.monotonic()
    server.start()
    wait_for(lambda: active_slots(server) == 0, FREED_BOUND_SECONDS, "the orphaned lease's slots freed")
    print(f"slots back {time.monotonic() - restarted_at:.1f} s after the restart began")
    assert not (leases_dir(server) / f"{lease_id}.json").exists(), "the lease is gone with its slots"


@pytest.mark.parametrize("server", [PREFECTS_FILESYSTEM_LEASES], indirect=True)
def test_prefects_own_storage_keeps_that_slot_counted(server: PrefectServer) -> None:
    """The control: the crash state is the one that leaked (if Prefect fixes this, the storage may retire)."""
    crash_while_leasing(server)
    server.start()
    deadline = datetime.now(UTC) + timedelta(seconds=CONTROL_WATCH_SECONDS)
    while datetime.now(UTC) < deadline:
        assert active_slots(server) == 2, "Prefect's storage revoked a lease its index never held"


def crash_while_leasing(server: PrefectServer) -> uuid.UUID:
    """Lease 2 slots, SIGKILL the server, and leave what a kill between the lease file and the index leaves:
    the lease file (its time run out meanwhile), an index without it."""
    with SyncPrefectClient(server.api_url) as client:  # its retries ride out a server still starting up
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=LIMIT, limit=3))
        response = client.increment_concurrency_slots_with_lease(
            names=[LIMIT],
            slots=2,
            mode="concurrency",
            lease_duration=60,
            holder=ConcurrencyLeaseHolder(type="flow_run", id=uuid.uuid4()),
        )
        lease_id = uuid.UUID(response.json()["lease_id"])
    server.kill()
    lease_file = leases_dir(server) / f"{lease_id}.json"
    record = json.loads(lease_file.read_text())
    record["expiration"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    lease_file.write_text(json.dumps(record))
    (leases_dir(server) / "expirations.json").write_text("{}")
    return lease_id


def active_slots(server: PrefectServer) -> int:
    with SyncPrefectClient(server.api_url) as client:
        return client.read_global_concurrency_limit_by_name(LIMIT).active_slots


def leases_dir(server: PrefectServer) -> Path:
    return server.home / "concurrency_leases"

"""The project's lease storage (local_prefect_server/lease_files.py), driven directly: which leases lapse
after a silence and which keep the time they were given."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect.server.concurrency.lease_storage import ConcurrencyLimitLeaseMetadata
from prefect.types._concurrency import ConcurrencyLeaseHolder

from local_prefect_server.lease_files import ConcurrencyLeaseStorage, silence_seconds

TTL = timedelta(seconds=60)


def lease_expiry_after_quick_renewals(storage_path: Path, holder: ConcurrencyLeaseHolder | None) -> timedelta:
    """Create a lease, renew it twice at once, and say how long from now it expires."""

    async def scenario() -> timedelta:
        storage = ConcurrencyLeaseStorage(storage_path)
        metadata = ConcurrencyLimitLeaseMetadata(slots=1, holder=holder)
        lease = await storage.create_lease([uuid.uuid4()], TTL, metadata)
        assert await storage.renew_lease(lease.id, TTL)
        assert await storage.renew_lease(lease.id, TTL)
        read = await storage.read_lease(lease.id)
        assert read is not None
        return read.expiration - datetime.now(UTC)

    # A loop of its own, never made the thread's current one: asyncio.run() would leave the main thread
    # without a current loop, and Pulumi's mocks in later tests ask for it.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_a_holder_renewing_often_lapses_after_the_silence(tmp_path: Path) -> None:
    holder = ConcurrencyLeaseHolder(type="flow_run", id=uuid.uuid4())
    left = lease_expiry_after_quick_renewals(tmp_path, holder)
    assert left <= timedelta(seconds=silence_seconds())


def test_a_lease_naming_no_holder_keeps_its_time(tmp_path: Path) -> None:
    """The server's deployment-slot leases: renewed twice as their run starts, then every 225 s."""
    left = lease_expiry_after_quick_renewals(tmp_path, None)
    assert left > TTL - timedelta(seconds=5)

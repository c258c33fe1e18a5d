"""Concurrency leases kept one file each, for every Prefect server this project starts
(PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=local_prefect_server.lease_files).

Two things Prefect 3.9.1's filesystem storage does not do:

- **No lease is orphaned by a crash.** Prefect's storage writes a lease file and then, separately, an
  expiry index, and its repossessor reads only the index: a server killed between the two writes keeps the
  lease's slots counted for good. Here the lease files are the only record, each written atomically (a
  temporary file renamed over it), so a lease either exists whole or not at all, and expiry scans the files.
- **A dead holder's slots come back within seconds.** The API refuses leases shorter than 60 s, and Prefect
  frees a lapsed one one repossessor loop later. A lease whose holder has shown that it renews often (one
  renewal within a third of `RPA_LEASE_SILENCE_SECONDS` of the previous one, or a lease created for a flow
  run that holds such a lease already) expires once it has gone that long unrenewed. Only leases that name
  their holder: the server's deployment-slot leases name none, and are renewed twice within seconds as
  their run starts. Prefect's own clients
  renew at three quarters of their lease (45 s and more apart), so their leases keep Prefect's meaning.
  Silence counts from this server's start at the earliest: an outage of the server costs no holder its
  leases.

Every method does its file work without awaiting in between, so on the server's one event loop a renewal
and a revocation of one lease never interleave (a renewal must not write back a lease just revoked).

Only Prefect and the standard library are imported: a stack's own server container runs this file in an
image the project did not build (infra/program/server_spec.py uploads it)."""

import json
import os
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.server.concurrency.lease_storage import ConcurrencyLimitLeaseMetadata
from prefect.server.concurrency.lease_storage.filesystem import (
    ConcurrencyLeaseStorage as PrefectFilesystemStorage,
)
from prefect.server.utilities.leasing import ResourceLease
from prefect.types._concurrency import ConcurrencyLeaseHolder

SILENCE_SETTING = "RPA_LEASE_SILENCE_SECONDS"
DEFAULT_SILENCE_SECONDS = 12.0
_SERVER_STARTED = time.time()  # this module is imported once per server process
# Holders whose leases proved they renew often, newest last; relearned after a restart from their renewals.
_holders_renewing_often: OrderedDict[str, None] = OrderedDict()
_HOLDERS_REMEMBERED = 10_000  # flow runs; older ones have long finished

Lease = ResourceLease[ConcurrencyLimitLeaseMetadata]


def silence_seconds() -> float:
    return float(os.environ.get(SILENCE_SETTING) or DEFAULT_SILENCE_SECONDS)


class ConcurrencyLeaseStorage(PrefectFilesystemStorage):
    """The lease files of Prefect's filesystem storage (same directory, same fields) plus `touched_at` (when
    the lease was last created or renewed, epoch seconds) and `renews_often`."""

    async def create_lease(
        self, resource_ids: list[UUID], ttl: timedelta, metadata: ConcurrencyLimitLeaseMetadata | None = None
    ) -> Lease:
        lease: Lease = ResourceLease(
            resource_ids=resource_ids, metadata=metadata, expiration=datetime.now(UTC) + ttl
        )
        holder = _holder_key(metadata.holder if metadata else None)
        self._write(lease, touched_at=time.time(), renews_often=holder in _holders_renewing_often)
        return lease

    async def read_lease(self, lease_id: UUID) -> Lease | None:
        found = self._read(self._lease_file_path(lease_id))
        return None if found is None else _effective(*found)

    async def renew_lease(self, lease_id: UUID, ttl: timedelta) -> bool:
        found = self._read(self._lease_file_path(lease_id))
        if found is None:
            return False
        record, lease = found
        now = time.time()
        lease.expiration = datetime.now(UTC) + ttl
        holder = _holder_key(lease.metadata.holder if lease.metadata else None)
        # Only a lease that names its holder: the server's own deployment-slot leases name none, and are
        # renewed twice within seconds when their run starts, then every 225 s.
        quick = now - record["touched_at"] <= silence_seconds() / 3
        renews_often = bool(record.get("renews_often")) or (holder is not None and quick)
        if renews_often and holder is not None:
            _holders_renewing_often[holder] = None
            _holders_renewing_often.move_to_end(holder)
            while len(_holders_renewing_often) > _HOLDERS_REMEMBERED:
                _holders_renewing_often.popitem(last=False)
        self._write(lease, touched_at=now, renews_often=renews_often)
        return True

    async def revoke_lease(self, lease_id: UUID) -> None:
        self._lease_file_path(lease_id).unlink(missing_ok=True)

    async def read_active_lease_ids(self, limit: int = 100, offset: int = 0) -> list[UUID]:
        now = datetime.now(UTC)
        active = [lease.id for lease in self._leases() if lease.expiration > now]
        return active[offset : offset + limit]

    async def read_expired_lease_ids(self, limit: int = 100) -> list[UUID]:
        now = datetime.now(UTC)
        return [lease.id for lease in self._leases() if lease.expiration < now][:limit]

    async def list_holders_for_limit(self, limit_id: UUID) -> list[tuple[UUID, ConcurrencyLeaseHolder]]:
        now = datetime.now(UTC)
        return [
            (lease.id, lease.metadata.holder)
            for lease in self._leases()
            if limit_id in lease.resource_ids and lease.expiration > now
            if lease.metadata and lease.metadata.holder
        ]

    def _leases(self) -> list[Lease]:
        if not self.storage_path.is_dir():
            return []
        found = (self._read(path) for path in sorted(self.storage_path.glob("*-*-*-*-*.json")))
        return [_effective(*pair) for pair in found if pair is not None]

    def _read(self, path: Path) -> tuple[dict[str, Any], Lease] | None:
        """The lease file's record and its lease, None if there is none. A file that does not parse was never
        written whole by us (writes are atomic), and is dropped."""
        try:
            record = json.loads(path.read_text())
            lease = self._deserialize_lease(record)
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, KeyError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            return None
        # A lease file of Prefect's own storage (a server switched to this one) was last touched when made.
        record.setdefault("touched_at", lease.created_at.timestamp())
        return record, lease

    def _write(self, lease: Lease, *, touched_at: float, renews_often: bool) -> None:
        record = {**self._serialize_lease(lease), "touched_at": touched_at, "renews_often": renews_often}
        self._atomic_write_json(self._lease_file_path(lease.id), record)


def _effective(record: dict[str, Any], lease: Lease) -> Lease:
    """The lease with the expiry that counts: its own, or sooner once a holder renewing often fell silent."""
    if record.get("renews_often"):
        silent_since = max(record["touched_at"], _SERVER_STARTED)
        silence_ends = datetime.fromtimestamp(silent_since + silence_seconds(), UTC)
        lease.expiration = min(lease.expiration, silence_ends)
    return lease


def _holder_key(holder: ConcurrencyLeaseHolder | None) -> str | None:
    return None if holder is None else f"{holder.type}:{holder.id}"

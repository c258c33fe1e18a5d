"""Settings of every Prefect server this project starts: `make server` and the tests' servers."""

import sys
from pathlib import Path

OFFLINE = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

# Prefect 3.9.1 keeps concurrency leases in memory by default while it counts the slots in its database: a
# restart would leave every slot held at that moment counted, with no lease left to expire, for good. Kept on
# disk (under PREFECT_HOME) one file each (lease_files.py), the leases outlive a restart, even one in the
# middle of a write, and expire or are released as usual.
FILESYSTEM_LEASES = "local_prefect_server.lease_files"
LEASE_STORAGE_SETTING = "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"
LEASE_SETTINGS = {
    # Expired leases are looked for every 2 s rather than 15: with lease_files' silence rule (12 s), a dead
    # flow run's slots are back within about 15 s. A scan reads the lease files: a few dozen, milliseconds.
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
}
# A flow run denied its deployment's concurrency slot (collision_strategy ENQUEUE) goes back to Scheduled,
# named AwaitingConcurrencySlot, due this many seconds later (prefect/server/orchestration/core_policy.py,
# SecureFlowConcurrencySlots); nothing else wakes it: a worker proposes it again at the first poll where it is
# due within the worker's prefetch (PREFECT_WORKER_PREFETCH_SECONDS, 10 s by default). Prefect's 30 s left a
# freed slot unused for 15-25 s (measured through rpa3/dev); due in 1 s, a waiting run is retried at every
# poll, and takes a freed slot one worker poll after it frees.
DEPLOYMENT_SLOT_WAIT_SETTING = "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS"
DEPLOYMENT_SLOT_WAIT_SECONDS = 1
SERVICE_SETTINGS = {**LEASE_SETTINGS, DEPLOYMENT_SLOT_WAIT_SETTING: str(DEPLOYMENT_SLOT_WAIT_SECONDS)}
"""How every server the project starts is tuned, wherever it runs (infra/program/server_spec.py: a stack's
own)."""
DATABASE_URL_SETTING = "PREFECT_API_DATABASE_CONNECTION_URL"


def server_settings(
    home: Path, lease_storage: str = FILESYSTEM_LEASES, database_url: str | None = None
) -> dict[str, str]:
    """Environment variables for `prefect server start` with its state in `home`, its database SQLite there
    unless `database_url` (postgresql+asyncpg://...) names another."""
    settings = {**OFFLINE, **SERVICE_SETTINGS, "PREFECT_HOME": str(home)}
    settings[LEASE_STORAGE_SETTING] = lease_storage
    return settings | ({DATABASE_URL_SETTING: database_url} if database_url else {})


def server_command(host: str, port: int) -> list[str]:
    """`prefect server start` in the foreground, with this interpreter's Prefect."""
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]

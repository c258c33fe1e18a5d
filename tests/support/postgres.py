"""A throwaway PostgreSQL cluster on 127.0.0.1 for one test, from the machine's own PostgreSQL binaries."""

import glob
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port


def postgres_bin_dir() -> Path | None:
    initdb = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return Path(initdb).parent if initdb else None


@contextmanager
def throwaway_cluster(bin_dir: Path, workdir: Path) -> Iterator[str]:
    """Yields a SQLAlchemy URL. PostgreSQL refuses to run as root, so as root it runs as `postgres`."""
    data, port = workdir / "pgdata", free_port()
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        os.chown(data, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True)

    run(str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres")
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

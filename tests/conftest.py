"""Session-wide: one real Prefect server, and this process pointed at it before Prefect is imported."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prefect_server import OFFLINE_ENV, PrefectServer, free_port

_session_dir = Path(tempfile.mkdtemp(prefix="rpa-platform-tests-"))
_server = PrefectServer(
    home=_session_dir / "prefect-home", port=free_port(), log_path=_session_dir / "server.log"
)

# Prefect reads its settings from the environment: set them before any test module imports prefect, so every
# client in this process (and every subprocess it starts) talks to the session's server.
os.environ.update(OFFLINE_ENV)
os.environ["PREFECT_HOME"] = str(_server.home)
os.environ["PREFECT_API_URL"] = _server.api_url
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    _server.start()
    yield _server
    _server.stop()


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _session_dir

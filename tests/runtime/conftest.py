"""The limits API both ways: in memory on a manual clock, and the real `LimitsApi` on the session's server."""

from collections.abc import Iterator

import pytest
from prefect.client.orchestration import SyncPrefectClient

from flows.runtime.limits_api import LimitsApi
from tests.runtime.limits_under_test import InMemory, LimitsUnderTest, OnServer
from tests.support.manual_clock import ManualClock
from tests.support.memory_limits_api import MemoryLimitsApi


@pytest.fixture(params=["memory", "server"])
def limits(request: pytest.FixtureRequest) -> Iterator[LimitsUnderTest]:
    if request.param == "memory":
        clock = ManualClock()
        yield InMemory(MemoryLimitsApi(clock), clock)
        return
    client: SyncPrefectClient = request.getfixturevalue("client")  # starts the session's server
    with LimitsApi(None) as api:
        yield OnServer(api, client)

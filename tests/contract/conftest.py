"""Providers served by the real dynamic-provider process, configured like the engine configures them."""

import uuid
from collections.abc import Callable, Iterator

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client

from infra import config_keys
from tests.support.prefect_server import PrefectServer
from tests.support.provider_protocol import DynamicProviderProcess, EngineStack


@pytest.fixture(scope="module")
def provider_process(
    prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DynamicProviderProcess]:
    process = DynamicProviderProcess(log_path=tmp_path_factory.mktemp("provider") / "provider.log")
    process.start()
    process.configure({config_keys.qualified(config_keys.API_URL): prefect_server.api_url})
    yield process
    process.stop()


@pytest.fixture
def client(prefect_server: PrefectServer) -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as prefect_client:
        yield prefect_client


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def engine(provider_process: DynamicProviderProcess) -> Iterator[Callable[..., EngineStack]]:
    """Make resources under a simulated engine; whatever a test leaves behind is destroyed."""
    stacks: list[EngineStack] = []

    def make(resource_type: str, provider_object: object, name: str = "r") -> EngineStack:
        stack = EngineStack(provider_process, resource_type, name, provider_object)
        stacks.append(stack)
        return stack

    yield make
    for stack in reversed(stacks):
        if stack.state is not None:
            stack.destroy()

"""Resources under a simulated engine, each destroyed after its test."""

from collections.abc import Callable, Iterator

import pytest

from tests.support.provider_protocol import DynamicProviderProcess, EngineStack


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

"""`pulumi up` of a stack's Prefect objects without the CLI: the program itself declares them (under
Pulumi's mocks), and each is then driven through the real dynamic-provider process, in declaration order,
with the very provider object and inputs the program serialised."""

import base64
from typing import Any

import dill

from infra.prefect_resources.provider import PrefectProvider
from infra.rpa_platform import RpaPlatform
from infra.settings import StackSettings
from tests.support.provider_protocol import PROVIDER_KEY, DynamicProviderProcess, EngineStack
from tests.support.pulumi_program import run_under_mocks

PREFECT_TYPE_PREFIX = "pulumi-python:dynamic/prefect:"


def declared_objects(settings: StackSettings) -> list[tuple[str, str, PrefectProvider, dict[str, Any]]]:
    """(resource type, resource name, provider, inputs) of every Prefect object the program declares."""
    inventory = run_under_mocks(settings.stack, {}, lambda: RpaPlatform("rpa-platform", settings) and None)
    declared = []
    for resource in inventory.resources:
        if not resource.type.startswith(PREFECT_TYPE_PREFIX):
            continue
        serialized = resource.inputs[PROVIDER_KEY]
        pickled = serialized["value"] if isinstance(serialized, dict) else serialized
        provider = dill.loads(base64.b64decode(pickled))
        inputs = {key: value for key, value in resource.inputs.items() if key != PROVIDER_KEY}
        declared.append((resource.type.removeprefix(PREFECT_TYPE_PREFIX), resource.name, provider, inputs))
    return declared


class PrefectObjects:
    """The stack's Prefect objects under one simulated engine."""

    def __init__(self, process: DynamicProviderProcess, settings: StackSettings) -> None:
        self.declared = declared_objects(settings)
        self.stacks = [
            EngineStack(process, kind, name, provider) for kind, name, provider, _ in self.declared
        ]

    def up(self) -> list[str]:
        return [stack.up(inputs) for stack, (_, _, _, inputs) in zip(self.stacks, self.declared, strict=True)]

    def destroy(self) -> None:
        for stack in reversed(self.stacks):
            stack.destroy()

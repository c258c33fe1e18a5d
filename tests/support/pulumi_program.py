"""Run the Pulumi program for a stack under Pulumi's own mocks (no CLI, no engine) and record what it
declares: the inventory of resources with their types, names, inputs and providers."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, set_all_config, set_mocks
from pulumi.runtime.rpc import unwrap_rpc_secret
from pulumi.runtime.settings import reset_options

from infra import config_keys
from infra.stack_files.stack_config import read_stack_document

REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
DOCKER_PROVIDER = "pulumi:providers:docker"


@dataclass
class DeclaredResource:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str


@dataclass
class Inventory(Mocks):
    """Mocks that remember every resource the program declares."""

    resources: list[DeclaredResource] = field(default_factory=list)

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(DeclaredResource(args.typ, args.name, dict(args.inputs), args.provider or ""))
        outputs = dict(args.inputs)
        if args.typ == REMOTE_IMAGE:
            outputs["imageId"] = f"sha256:mock-{args.inputs['name']}"
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        return {}

    def of_type(self, suffix: str) -> list[DeclaredResource]:
        return [resource for resource in self.resources if resource.type.endswith(suffix)]


def pulumi_config_of(stack_file: Path) -> dict[str, str]:
    """A stack file's config as the CLI hands it to the program: objects as JSON, everything as text."""
    config = read_stack_document(stack_file)["config"]
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run_under_mocks(
    stack: str,
    config: dict[str, str],
    program: Callable[[], Any],
    preview: bool = False,
    inventory: Inventory | None = None,
) -> Inventory:
    """Run `program` as the given stack with the given config; returns what it declared. The program's
    return value (an Output or None) is awaited, so failures inside applies surface."""
    reset_options(project=config_keys.PROJECT, stack=stack, preview=preview)
    set_all_config(config, secret_keys=[config_keys.qualified(key) for key in config_keys.ENCRYPTED])
    inventory = inventory if inventory is not None else Inventory()
    set_mocks(inventory, project=config_keys.PROJECT, stack=stack, preview=preview)
    pulumi.runtime.test(program)()
    return inventory


def in_clear(value: Any) -> Any:
    """Mocks see secrets wrapped (envs with an API key); the provider receives them decrypted."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: in_clear(item) for key, item in value.items()}
    if isinstance(value, list):
        return [in_clear(item) for item in value]
    return value

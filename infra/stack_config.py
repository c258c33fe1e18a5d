"""Where a stack's settings come from: the running Pulumi program's config, or the stack file itself.

The program reads Pulumi's config (secrets decrypted by the engine). Tools that run without the Pulumi CLI
(`make check`, the policy tests, `make list-config`) read `Pulumi.<stack>.yaml` directly; there encrypted
values stay opaque, which is all validation needs.
"""

import json
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env

from infra import config_keys
from infra.prefect_resources.inputs import Problem
from infra.settings import SettingsError, StackSettings, parse_stack_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENCRYPTED = "(encrypted)"


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def from_pulumi_config() -> StackSettings:
    """Settings of the stack the Pulumi program runs for."""
    stack = pulumi.get_stack()
    source = stack_file(stack).name
    everything = {**get_config_env(), **CONFIG.get()}
    raw, problems = project_keys(everything)
    if isinstance(raw.get(config_keys.PLATFORM), str):
        try:
            raw[config_keys.PLATFORM] = json.loads(raw[config_keys.PLATFORM])
        except json.JSONDecodeError:
            problems.append(Problem(config_keys.PLATFORM, "must be an object (pools, queues, workers, ...)"))
    if problems:
        raise SettingsError(source, problems)
    return parse_stack_settings(stack, source, raw)


def from_stack_file(path: Path) -> StackSettings:
    """Settings from a `Pulumi.<stack>.yaml` on disk, secrets left encrypted."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(path.name, [Problem("(file)", f"cannot be read: {error}")]) from None
    config = document.get("config") or {} if isinstance(document, dict) else {}
    raw, problems = project_keys(config)
    for key, value in list(raw.items()):
        if isinstance(value, dict) and set(value) == {"secure"}:
            if key in config_keys.SECRETS:
                raw[key] = ENCRYPTED
            else:
                problems.append(
                    Problem(key, "is encrypted, but only secrets may be; set it without --secret")
                )
    if problems:
        raise SettingsError(path.name, problems)
    return parse_stack_settings(stack, path.name, raw)


def project_keys(config: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """This project's keys without their namespace; other namespaces (docker:, pulumi:) belong to others."""
    prefix = f"{config_keys.PROJECT}:"
    raw = {key.removeprefix(prefix): value for key, value in config.items() if key.startswith(prefix)}
    problems = [
        Problem(key, f"unknown key; allowed: {', '.join(config_keys.ALL)}")
        for key in raw
        if key not in config_keys.ALL
    ]
    return {key: value for key, value in raw.items() if key in config_keys.ALL}, problems

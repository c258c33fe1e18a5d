"""A stack's settings, read and validated in full: from the running Pulumi program's config, or from the
stack file itself.

The program reads Pulumi's config (secrets decrypted by the engine). Tools that run without the Pulumi CLI
(`make check`, the policy tests, `make list-config`) read `Pulumi.<stack>.yaml` directly; there encrypted
values stay opaque, which is all validation needs. Either way, every problem is reported before anything is
declared: types and references, Prefect's rules for the names the stack gives its objects, and what the
shipped flows need from every stack.
"""

import json
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from infra import config_keys
from infra.flow_requirements import flow_requirement_problems
from infra.prefect_objects import prefect_problems
from infra.prefect_resources.inputs import Problem
from infra.settings import SettingsError, StackSettings, parse_config, reference_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENCRYPTED = "(encrypted)"


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def stack_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Every stack's file in the repository (`Pulumi.<stack>.yaml`)."""
    return sorted(root.glob("Pulumi.*.yaml"))


def parse_stack_settings(stack: str, source: str, raw: dict[str, Any]) -> StackSettings:
    """Validate the project's config keys (short form: `platform`, `environment` ...) of one stack."""
    settings = parse_config(stack, source, raw)
    problems = reference_problems(settings) + prefect_problems(settings) + flow_requirement_problems(settings)
    if problems:
        raise SettingsError(source, problems)
    return settings


def from_pulumi_config() -> StackSettings:
    """Settings of the stack the Pulumi program runs for."""
    stack = pulumi.get_stack()
    source = stack_file(stack).name
    raw, problems = project_keys({**get_config_env(), **CONFIG.get()})
    for key in config_keys.SECRETS:
        if key in raw and not is_config_secret(config_keys.qualified(key)):
            problems.append(unencrypted(key))
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
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config or {}, dict):
        raise SettingsError(path.name, [Problem("(file)", "`config:` must be a mapping of keys to values")])
    raw, problems = project_keys(config or {})
    for key, value in list(raw.items()):
        encrypted = isinstance(value, dict) and set(value) == {"secure"}
        if key in config_keys.SECRETS and encrypted:
            raw[key] = ENCRYPTED
        elif key in config_keys.SECRETS:
            problems.append(unencrypted(key))
        elif encrypted:
            problems.append(Problem(key, "is encrypted, but only secrets may be; set it without --secret"))
    if problems:
        raise SettingsError(path.name, problems)
    return parse_stack_settings(stack, path.name, raw)


def unencrypted(key: str) -> Problem:
    return Problem(
        key, f"is a credential and must be stored encrypted: pulumi config set --secret {key} <value>"
    )


def project_keys(config: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """This project's keys without their namespace; other namespaces (docker:, pulumi:) belong to others."""
    prefix = f"{config_keys.PROJECT}:"
    raw = {key.removeprefix(prefix): value for key, value in config.items() if str(key).startswith(prefix)}
    problems = [
        Problem(key, f"unknown key; allowed: {', '.join(config_keys.ALL)}")
        for key in raw
        if key not in config_keys.ALL
    ]
    return {key: value for key, value in raw.items() if key in config_keys.ALL}, problems

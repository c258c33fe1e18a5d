"""The one reader of stack files: a stack's settings, read and validated in full, from the running Pulumi
program's config or from `Pulumi.<stack>.yaml` itself; the list of stacks; where their files are.

The program reads Pulumi's config (secrets decrypted by the engine). Everything else (`make check`,
`make list-config`, `make status`, the tests) reads the stack file through here; there encrypted values stay
opaque, which is all validation needs. Either way, every problem is reported before anything is declared:
types and references, Prefect's rules for the names the stack gives its objects, and what the shipped flows
need from every stack. (Rules between stacks: `between_stacks`.)
"""

import difflib
import json
from pathlib import Path
from typing import Any, Final

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from infra import config_keys
from infra.problem import Problem
from infra.stack_files.flow_requirements import flow_requirement_problems
from infra.stack_files.prefect_kinds import prefect_problems
from infra.stack_files.settings import (
    SettingsError,
    StackSettings,
    parse_config,
    reference_problems,
    server_problems,
)
from infra.yaml_file import YamlFileError, load_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENCRYPTED = "(encrypted)"
STACKS: Final = ("dev", "staging", "prod")
"""The shipped stacks, in the order changes are promoted through them (and their limits grow)."""


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def stack_of(path: Path) -> str:
    """`Pulumi.prod.yaml` -> `prod`."""
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def stack_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Every stack's file in `root` (`Pulumi.<stack>.yaml`), shipped or not."""
    return sorted(root.glob("Pulumi.*.yaml"))


def read_stack_document(path: Path) -> dict[str, Any]:
    """The stack file as written (secrets encrypted), its `config:` a mapping: for the tools and tests that
    copy or edit one. SettingsError, naming the file, when it is not such a document."""
    try:
        document = load_yaml(path) or {}
    except YamlFileError as error:
        raise SettingsError(path.name, [Problem("(file)", str(error))]) from None
    if not isinstance(document, dict):
        raise SettingsError(path.name, [Problem("(file)", "must be a mapping with a `config:` mapping")])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise SettingsError(path.name, [Problem("(file)", "`config:` must be a mapping of keys to values")])
    return {**document, "config": config}


def parse_stack_settings(stack: str, source: str, raw: dict[str, Any]) -> StackSettings:
    """Validate the project's config keys (short form: `platform`, `environment` ...) of one stack."""
    settings = parse_config(stack, source, raw)
    problems = reference_problems(settings) + server_problems(settings)
    problems += prefect_problems(settings) + flow_requirement_problems(settings)
    if problems:
        raise SettingsError(source, problems)
    return settings


def from_pulumi_config() -> StackSettings:
    """Settings of the stack the Pulumi program runs for."""
    stack = pulumi.get_stack()
    source = stack_file(stack).name
    raw, problems = project_keys({**get_config_env(), **CONFIG.get()})
    for key in list(raw):
        encrypted = is_config_secret(config_keys.qualified(key))
        if key in config_keys.ENCRYPTED and not encrypted:
            problems.append(unencrypted(key))
        elif key not in config_keys.ENCRYPTED and encrypted:
            del raw[key]  # Decrypted here: never to be echoed.
            problems.append(encrypted_but_not_secret(key))
    problems += decode_objects(raw)
    if problems:
        raise SettingsError(source, problems)
    return parse_stack_settings(stack, source, raw)


def from_stack_file(path: Path) -> StackSettings:
    """Settings from a `Pulumi.<stack>.yaml` on disk, secrets left encrypted."""
    raw, problems = project_keys(read_stack_document(path)["config"])
    for key, value in list(raw.items()):
        encrypted = isinstance(value, dict) and set(value) == {"secure"}
        if key in config_keys.ENCRYPTED and encrypted:
            raw[key] = ENCRYPTED
        elif key in config_keys.ENCRYPTED:
            problems.append(unencrypted(key))
        elif encrypted:
            problems.append(encrypted_but_not_secret(key))
    problems += decode_objects(raw)
    if problems:
        raise SettingsError(path.name, problems)
    return parse_stack_settings(stack_of(path), path.name, raw)


def encrypted_but_not_secret(key: str) -> Problem:
    return Problem(key, "is encrypted, but only the credentials may be: set it without --secret")


def unencrypted(key: str) -> Problem:
    return Problem(
        key, f"is a credential and must be stored encrypted: pulumi config set --secret {key} <value>"
    )


def project_keys(config: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """This project's keys without their namespace. A key without one is the project's, as Pulumi reads it;
    pulumi: and docker: belong to Pulumi and pulumi-docker; any other namespace is refused: its keys would be
    ignored (a misspelt `rpa-platfrom:prefectApiUrl` would leave the stack on the default URL)."""
    raw: dict[str, Any] = {}
    problems = []
    for key, value in config.items():
        namespace, separator, name = str(key).partition(":")
        if not separator:
            namespace, name = config_keys.PROJECT, namespace
        if namespace in config_keys.OTHER_NAMESPACES:
            continue
        if namespace != config_keys.PROJECT:
            problems.append(Problem(str(key), unknown_namespace(namespace)))
        elif name not in config_keys.ALL:
            problems.append(Problem(name, f"unknown key; allowed: {', '.join(config_keys.ALL)}"))
        elif name in raw:
            problems.append(Problem(name, f"is given twice (as {name} and {config_keys.qualified(name)})"))
        else:
            raw[name] = value
    return raw, problems


def unknown_namespace(namespace: str) -> str:
    known = (config_keys.PROJECT, *config_keys.OTHER_NAMESPACES)
    close = difflib.get_close_matches(namespace, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown namespace '{namespace}', whose keys nobody reads; {hint}allowed: {', '.join(known)}"


def decode_objects(raw: dict[str, Any]) -> list[Problem]:
    """The platform and the server, when written as JSON strings, as the objects they hold: Pulumi hands the
    program an object and a string of JSON alike, so the stack file's readers must take both."""
    problems = []
    for key in config_keys.OBJECTS:
        text = raw.get(key)
        if not isinstance(text, str):
            continue
        try:
            raw[key] = json.loads(text, object_pairs_hook=unique_keys)
        except ValueError as error:
            raw.pop(key)
            problems.append(Problem(key, f"must be an object ({OBJECT_CONTENTS[key]}): {error}"))
    return problems


OBJECT_CONTENTS = {
    config_keys.PLATFORM: "pools, queues, workers, ...",
    config_keys.SERVER: "port, image, database, ...",
}


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if twice := sorted({key for key in keys if keys.count(key) > 1}):
        raise ValueError(f"key {twice[0]!r} is given twice; keep one")
    return dict(pairs)

"""The example stack that brings its own Prefect server (docs/Pulumi.selfhosted.example.yaml), as the tests
use it: its config as the CLI hands it to the program, or its validated settings with a password and ports
of the test's choosing."""

import copy
from typing import Any

from infra import config_keys
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, parse_stack_settings, project_keys, read_stack_document
from tests.support.pulumi_program import pulumi_config_of

EXAMPLE = PROJECT_ROOT / "docs" / "Pulumi.selfhosted.example.yaml"
STACK = "selfhosted"
SOURCE = f"Pulumi.{STACK}.yaml"
PASSWORD = "s3cr3t:/@ pass%word"
"""Characters a URL must escape: the server's connection URL has to carry it intact."""


def example_raw(password: str | None = PASSWORD) -> dict[str, Any]:
    """The example's project keys (short form), objects as objects, with the password given in clear (as
    the engine hands a decrypted secret to the program)."""
    raw, problems = project_keys(read_stack_document(EXAMPLE)["config"])
    assert not problems, problems
    raw = copy.deepcopy(raw)
    if password is not None:
        raw[config_keys.SERVER_DATABASE_PASSWORD] = password
    return raw


def example_config(password: str = PASSWORD) -> dict[str, str]:
    """The example's config as the CLI hands it to the program: objects as JSON, the password decrypted."""
    config = pulumi_config_of(EXAMPLE)
    config[config_keys.qualified(config_keys.SERVER_DATABASE_PASSWORD)] = password
    return config


def example_settings(
    server_port: int, database_port: int, password: str = PASSWORD, workers: bool = False, **server: Any
) -> StackSettings:
    """The example stack, validated, with its server on the given ports (and its URL with it), without its
    workers unless asked, and any other `server:` keys changed."""
    raw = example_raw(password)
    raw["server"] = {**raw["server"], "port": server_port, **server}
    raw["server"]["database"] = {**raw["server"]["database"], "port": database_port}
    raw[config_keys.API_URL] = f"http://127.0.0.1:{server_port}/api"
    if not workers:
        raw["platform"]["workers"] = []
    return parse_stack_settings(STACK, SOURCE, raw)

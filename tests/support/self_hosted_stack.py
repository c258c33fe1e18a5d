"""The example stack that brings its own Prefect server (docs/Pulumi.selfhosted.example.yaml), as the tests
use it: its file, its project keys, or its config as the CLI hands it to the program."""

import copy
from typing import Any

from infra import config_keys
from infra.stack_files.stack_config import PROJECT_ROOT, project_keys, read_stack_document
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

"""Which stacks a change touches, from the paths it changes (`make pr-preview`, `make merge-apply`)."""

import pytest

from infra.cli.gitops.changed_stacks import touched_stacks
from infra.field_changes import field_changes
from infra.stack_files.stack_config import STACKS


@pytest.mark.parametrize(
    ("paths", "stacks"),
    [
        (["Pulumi.staging.yaml"], ["staging"]),
        (["Pulumi.prod.yaml", "Pulumi.dev.yaml"], ["dev", "prod"]),  # promotion order, not the diff's
        (["prefect.yaml"], list(STACKS)),
        (["flows/rpa3/flow.py", "README.md"], list(STACKS)),
        (["infra/stack_files/settings.py"], list(STACKS)),
        (["rpa_naming/names.py"], list(STACKS)),
        (["pyproject.toml"], list(STACKS)),
        (["README.md", "docs/gitops.md", "tests/cli/test_up.py", ".github/workflows/apply.yml"], []),
        (["docs/Pulumi.selfhosted.example.yaml"], []),  # not a stack's file
        (["Pulumi.yaml"], list(STACKS)),  # the project: every stack's program and runtime
        (["tools/pulumi-docker/main.go"], list(STACKS)),  # the plugin every stack uses
    ],
)
def test_touched_stacks(paths: list[str], stacks: list[str]) -> None:
    assert touched_stacks(paths) == stacks


def test_field_changes_name_the_leaf_that_moved() -> None:
    old = {"__provider": "x", "name": "p", "jobDefaults": {"image": "a:1", "env": {"K": "1"}}, "limit": 8}
    new = {"__provider": "y", "name": "p", "jobDefaults": {"image": "a:2", "env": {"K": "1"}}, "limit": 9}
    assert [str(change) for change in field_changes(old, new)] == [
        'jobDefaults.image "a:1" → "a:2"',
        "limit 8 → 9",
    ]


def test_field_changes_compare_as_json() -> None:
    """A flow reads true and 1 differently; Pulumi carries 15 as 15.0, the same number, and drops a null
    inside a map."""
    old = {"flag": 1, "timeout": 15.0, "tags": ["a"], "gone": 1, "env": {"K": None}}
    new = {"flag": True, "timeout": 15, "tags": ["a"], "added": None, "env": {}}
    assert [str(change) for change in field_changes(old, new)] == ["flag 1 → true", "gone 1 → (none)"]

"""`make check` on malformed stack files: it reports them and still runs every other check, the rules
between stacks on the valid ones."""

import json
from pathlib import Path

import pytest
import yaml

from infra.cli import check
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS, read_stack_document, stack_file

PLATFORM = "rpa-platform:platform"


def root_with(tmp_path: Path, **platforms: object) -> Path:
    """The shipped stack files and prefect.yaml, with the platform of some stacks replaced."""
    for stack in STACKS:
        document = read_stack_document(stack_file(stack))
        if stack in platforms:
            document["config"][PLATFORM] = platforms[stack]
        stack_file(stack, tmp_path).write_text(yaml.safe_dump(document))
    (tmp_path / "prefect.yaml").write_text((PROJECT_ROOT / "prefect.yaml").read_text())
    return tmp_path


def shipped_platform(stack: str) -> dict:
    return read_stack_document(stack_file(stack))["config"][PLATFORM]


MALFORMED = {
    "a list": [1, 2],
    "a string": "pools",
    "JSON of a list": "[1, 2]",
    "pools of strings": {"pools": ["rpa-docker"], "workers": ["x"], "concurrencyLimits": [None]},
    "limits as text": {
        **shipped_platform("prod"),
        "workers": [{"pool": "rpa-docker", "limit": "5", "replicas": "3"}],
    },
    "a pool without a name": {"pools": [{"concurrencyLimit": 3}], "queues": [{"concurrencyLimit": 1}]},
}


@pytest.mark.parametrize("platform", MALFORMED.values(), ids=MALFORMED.keys())
def test_check_reports_a_malformed_stack_and_runs_every_other_check(
    tmp_path: Path, platform: object, capsys: pytest.CaptureFixture[str]
) -> None:
    root = root_with(tmp_path, prod=platform)
    assert check.main([str(root)]) == 1
    out, err = capsys.readouterr()
    assert "Pulumi.prod.yaml: invalid stack settings" in err
    assert "Pulumi.dev.yaml: ok" in out and "Pulumi.staging.yaml: ok" in out
    assert "prefect.yaml: deployments" in err, "prefect.yaml is still checked against the valid stacks"
    assert "Traceback" not in out + err


def test_the_rule_between_stacks_still_holds_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    staging = shipped_platform("staging")
    for limit in staging["concurrencyLimits"]:
        if limit["name"] == "erp-api":
            limit["limit"] = 2  # below dev's 5
    root = root_with(tmp_path, staging=json.dumps(staging), prod=[1, 2])
    assert check.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert "environments: concurrency limit erp-api: staging has 2, below dev's 5" in err

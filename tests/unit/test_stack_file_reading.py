"""How a stack file is read, by `make check` from disk and by the program from Pulumi's config: namespaces,
keys given twice, YAML that does not parse, the platform written as JSON, credentials in what is echoed."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import from_pulumi_config, from_stack_file
from tests.support.pulumi_program import run_under_mocks
from tests.unit.test_settings import edited, valid

SECRET = "pw-7f3a-do-not-echo"


def stack_file(tmp_path: Path, config: dict[str, Any], name: str = "Pulumi.prod.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def ours() -> dict[str, Any]:
    return {f"rpa-platform:{key}": value for key, value in valid().items()}


def problems_in(path: Path) -> dict[str, str]:
    with pytest.raises(SettingsError) as raised:
        from_stack_file(path)
    assert str(raised.value).startswith(path.name)
    return {problem.property: problem.reason for problem in raised.value.problems}


def program_problems(config: dict[str, str]) -> dict[str, str]:
    """What the program reports for this config, as Pulumi hands it over (objects as JSON text)."""
    with pytest.raises(SettingsError) as raised:
        run_under_mocks("prod", config, lambda: from_pulumi_config() and None)
    return {problem.property: problem.reason for problem in raised.value.problems}


def test_a_misspelt_project_namespace_is_refused_not_ignored(tmp_path: Path) -> None:
    config = {**ours(), "rpa-platfrom:prefectApiUrl": "http://10.0.0.5:4200/api"}
    problems = problems_in(stack_file(tmp_path, config))
    assert "did you mean 'rpa-platform'?" in problems["rpa-platfrom:prefectApiUrl"]
    program_config = {key: v if isinstance(v, str) else json.dumps(v) for key, v in config.items()}
    assert problems == program_problems(program_config), "the program refuses it with the same words"


def test_pulumi_and_docker_namespaces_are_allowed_any_other_is_not(tmp_path: Path) -> None:
    config = {**ours(), "pulumi:tags": {"team": "rpa"}, "docker:host": "unix:///var/run/docker.sock"}
    from_stack_file(stack_file(tmp_path, config))
    problems = problems_in(stack_file(tmp_path, {**config, "aws:region": "eu-west-1"}))
    assert list(problems) == ["aws:region"]
    assert "allowed: rpa-platform, pulumi, docker" in problems["aws:region"]


def test_a_key_without_namespace_is_the_projects_as_pulumi_reads_it(tmp_path: Path) -> None:
    config = {**ours(), "prefectApiUrl": "http://10.0.0.5:4200/api"}
    assert from_stack_file(stack_file(tmp_path, config)).config.prefect_api_url == "http://10.0.0.5:4200/api"
    both = {**config, "rpa-platform:prefectApiUrl": "http://10.0.0.6:4200/api"}
    assert "given twice" in problems_in(stack_file(tmp_path, both))["prefectApiUrl"]
    assert "unknown key" in problems_in(stack_file(tmp_path, {**config, "prefectApiUr": "x"}))["prefectApiUr"]


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (
            "config:\n  rpa-platform:environment: production\n  rpa-platform:environment: staging\n",
            3,
            "rpa-platform:environment",
        ),
        (
            "config:\n  rpa-platform:platform:\n    concurrencyLimits:\n      - name: erp-api\n"
            "        limit: 5\n        limit: 50\n",
            6,
            "limit",
        ),
    ],
)
def test_a_key_given_twice_is_refused_naming_the_key_and_line(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    reason = problems_in(path)["(file)"]
    assert f"line {line}: key '{key}'" in reason
    assert "given twice" in reason


def test_anchors_merged_and_overridden_are_not_duplicates(tmp_path: Path) -> None:
    document = yaml.safe_dump({"config": ours()}, sort_keys=False)
    document += "x-defaults: &defaults {limit: 1, name: a}\nx-limit:\n  <<: *defaults\n  limit: 2\n"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(document)
    from_stack_file(path)


def test_yaml_that_does_not_parse_names_the_line_and_quotes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(f"config:\n  rpa-platform:prefectApiUrl: http://admin:{SECRET}@host/api: [\n")
    reason = problems_in(path)["(file)"]
    assert "line 2" in reason
    assert SECRET not in reason


def test_the_platform_written_as_json_is_read_as_pulumi_hands_it_to_the_program(tmp_path: Path) -> None:
    as_object = from_stack_file(stack_file(tmp_path, ours()))
    as_json = {**ours(), "rpa-platform:platform": json.dumps(valid()["platform"])}
    assert from_stack_file(stack_file(tmp_path, as_json)).config == as_object.config


@pytest.mark.parametrize("text", ['{"pools": [', "pools: []", '{"pools": [], "pools": []}'])
def test_a_platform_string_that_is_not_one_json_object_is_refused_by_both(tmp_path: Path, text: str) -> None:
    config = {**ours(), "rpa-platform:platform": text}
    from_file = problems_in(stack_file(tmp_path, config))
    assert "must be an object" in from_file["platform"]
    program_config = {key: v if isinstance(v, str) else json.dumps(v) for key, v in config.items()}
    assert from_file == program_problems(program_config)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("prefectApiUrl", f"http://admin:{SECRET}@127.0.0.1:4200/api", "http://***@127.0.0.1:4200/api"),
        ("platform.workers.0.dockerHost", f"tcp//admin:{SECRET}@docker-host:2376", "tcp//***@docker-host"),
    ],
)
def test_credentials_in_what_is_echoed_are_masked(tmp_path: Path, key: str, value: str, shown: str) -> None:
    config = {f"rpa-platform:{name}": item for name, item in edited(key, value).items()}
    with pytest.raises(SettingsError) as raised:
        from_stack_file(stack_file(tmp_path, config))
    message = str(raised.value)
    assert shown in message
    assert SECRET not in message

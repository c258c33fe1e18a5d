"""Every validation rule of the stack settings, with the message a stack author gets."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import from_stack_file, parse_stack_settings

SOURCE = "Pulumi.prod.yaml"


def valid() -> dict[str, Any]:
    return {
        "environment": "production",
        "platform": {
            "pools": [
                {
                    "name": "rpa-docker",
                    "type": "docker",
                    "concurrencyLimit": 15,
                    "jobDefaults": {"image": "rpa-platform/runtime:1", "networkMode": "host"},
                }
            ],
            "queues": [{"pool": "rpa-docker", "name": "critical", "priority": 1, "concurrencyLimit": 5}],
            "workers": [{"pool": "rpa-docker", "replicas": 3, "limit": 5}],
            "variables": {
                f"{flow}_{setting}": value
                for flow in ("rpa1", "rpa2", "rpa3")
                for setting, value in (("max_concurrent_tasks", 15), ("timeout", 120))
            },
            "concurrencyLimits": [
                {"name": "erp-api", "limit": 10},
                {"name": "erp-api-rate", "limit": 20, "slotDecayPerSecond": 20},
                {"name": "db-write", "limit": 1},
            ],
            "tagLimits": {"erp": 4},
        },
    }


def problems_for(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as raised:
        parse_stack_settings("prod", SOURCE, raw)
    assert str(raised.value).startswith(SOURCE)
    return {problem.property: problem.reason for problem in raised.value.problems}


def refusal(path: str, value: Any, key: str, message: str) -> str:
    """The problem reported at `key` when `path` is set to `value`; it must contain `message`."""
    problems = problems_for(edited(path, value))
    assert key in problems, problems
    assert message in problems[key]
    return problems[key]


def edited(path: str, value: Any) -> dict[str, Any]:
    """A valid config with the value at a dotted path (list indices as numbers) replaced."""
    raw = copy.deepcopy(valid())
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    node: Any = raw
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


def test_valid_settings_name_the_objects_per_stack() -> None:
    settings = parse_stack_settings("prod", SOURCE, valid())
    assert settings.pool_name("rpa-docker") == "prod-rpa-docker"
    assert settings.variable_name("rpa3_max_concurrent_tasks") == "production_rpa3_max_concurrent_tasks"
    assert settings.limit_name("db-write") == "prod-db-write"
    assert settings.tag("erp") == "prod-erp"
    assert settings.config.prefect_api_url == "http://127.0.0.1:4200/api"


def test_job_defaults_become_template_variables_with_the_stack_names_in_env() -> None:
    settings = parse_stack_settings("prod", SOURCE, valid())
    defaults = settings.job_defaults(settings.platform.pools[0])
    assert defaults["network_mode"] == "host"
    assert defaults["env"] == {"RPA_STACK": "prod", "RPA_ENVIRONMENT": "production"}


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        (
            "platform.pools.0.concurrencyLimit",
            -1,
            "platform.pools[0].concurrencyLimit",
            "greater than or equal to 0",
        ),
        ("platform.pools.0.concurrencyLimit", 2.5, "platform.pools[0].concurrencyLimit", "valid integer"),
        ("platform.pools.0.concurrencyLimit", "5", "platform.pools[0].concurrencyLimit", "valid integer"),
        (
            "platform.queues.0.concurrencyLimit",
            -1,
            "platform.queues[0].concurrencyLimit",
            "greater than or equal",
        ),
        ("platform.queues.0.priority", 0, "platform.queues[0].priority", "greater than or equal to 1"),
        ("platform.workers.0.limit", 0, "platform.workers[0].limit", "greater than or equal to 1"),
        ("platform.workers.0.replicas", True, "platform.workers[0].replicas", "valid integer"),
        (
            "platform.concurrencyLimits.0.limit",
            -1,
            "platform.concurrencyLimits[0].limit",
            "greater than or equal",
        ),
        ("platform.tagLimits.erp", -1, "platform.tagLimits.erp", "greater than or equal to 0"),
        ("platform.pools.0.type", "kubernetes", "platform.pools[0].type", "'docker' or 'process'"),
        ("environment", "prod", "environment", "'development', 'staging' or 'production'"),
        ("prefectApiUrl", "127.0.0.1:4200", "prefectApiUrl", "must be http(s)://host[:port]/path"),
    ],
)
def test_bad_values_are_refused_with_key_and_what_is_allowed(
    path: str, value: Any, key: str, message: str
) -> None:
    assert repr(value) in refusal(path, value, key, message), "the message shows what was given"


@pytest.mark.parametrize(
    ("path", "key", "suggestion"),
    [
        ("platform.pools.0.concurencyLimit", "platform.pools[0].concurencyLimit", "concurrencyLimit"),
        ("platform.workres", "platform.workres", "workers"),
        ("platform.workers.0.dockerhost", "platform.workers[0].dockerhost", "dockerHost"),
    ],
)
def test_typos_are_unknown_keys_with_a_suggestion(path: str, key: str, suggestion: str) -> None:
    problems = problems_for(edited(path, 1))
    assert f"did you mean '{suggestion}'" in problems[key]


def test_a_health_port_is_an_unknown_key() -> None:
    """The system picks each worker's health port: a stack file that sets one learns what a worker takes."""
    problems = problems_for(edited("platform.workers.0.healthPort", 18300))
    assert problems == {
        "platform.workers[0].healthPort": "unknown key; allowed: pool, replicas, limit, queues, image, "
        "dockerHost, networkMode, memLimit, pollSeconds, env"
    }


def test_unknown_top_level_key_in_a_stack_file(tmp_path: Path) -> None:
    document = {"config": {f"rpa-platform:{key}": value for key, value in valid().items()}}
    document["config"]["rpa-platform:prefectApiUr"] = "http://127.0.0.1:4200/api"
    document["config"]["docker:host"] = "unix:///var/run/docker.sock"  # Another provider's key: not ours.
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SettingsError) as raised:
        from_stack_file(path)
    assert [p.property for p in raised.value.problems] == ["prefectApiUr"]
    assert "Pulumi.prod.yaml" in str(raised.value)
    assert "rpa-platform:prefectApiUr: unknown key; allowed: prefectApiUrl" in str(raised.value)


def test_encrypted_secrets_stay_opaque_in_a_stack_file(tmp_path: Path) -> None:
    document = {"config": {f"rpa-platform:{key}": value for key, value in valid().items()}}
    document["config"]["rpa-platform:prefectApiKey"] = {"secure": "v1:abc"}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))
    settings = from_stack_file(path)
    assert settings.config.prefect_api_key is not None
    assert "v1:abc" not in repr(settings)


def test_secret_values_are_never_echoed() -> None:
    raw = {**valid(), "prefectApiKey": 123456789, "prefectAuthString": ["admin:pass"]}
    problems = problems_for(raw)
    assert "123456789" not in str(problems)
    assert "admin:pass" not in str(problems)
    assert "prefectApiKey" in problems


def test_references_to_undefined_pools_and_queues() -> None:
    raw = valid()
    raw["platform"]["queues"].append({"pool": "rpa-proces", "name": "bulk"})
    raw["platform"]["workers"].append({"pool": "ghost", "limit": 1, "image": "x"})
    raw["platform"]["workers"][0]["queues"] = ["critical", "default", "bulk"]
    problems = problems_for(raw)
    assert problems["platform.queues[1].pool"] == "no pool named 'rpa-proces' is defined (pools: rpa-docker)"
    assert problems["platform.workers[1].pool"] == "no pool named 'ghost' is defined (pools: rpa-docker)"
    assert "has no queue 'bulk'" in problems["platform.workers[0].queues[2]"]


def test_duplicates_are_refused() -> None:
    raw = valid()
    raw["platform"]["pools"].append(copy.deepcopy(raw["platform"]["pools"][0]))
    raw["platform"]["queues"].append(copy.deepcopy(raw["platform"]["queues"][0]))
    raw["platform"]["concurrencyLimits"].append({"name": "db-write", "limit": 2})
    problems = problems_for(raw)
    assert problems["platform.pools"] == "pool 'rpa-docker' is defined more than once"
    assert problems["platform.queues"] == "queue 'critical' of pool 'rpa-docker' is defined more than once"
    assert problems["platform.concurrencyLimits"] == "limit 'db-write' is defined more than once"


def test_names_prefect_rejects_are_refused_before_anything_is_sent() -> None:
    raw = valid()
    raw["platform"]["pools"][0]["name"] = "rpa/docker"
    raw["platform"]["queues"] = []
    raw["platform"]["workers"] = []
    raw["platform"]["concurrencyLimits"][0]["name"] = "erp>api"
    raw["platform"]["variables"] = {"RPA3_timeout": 1, "x" * 250: 1, "rpa3_blob": "x" * 5001}
    raw["platform"]["tagLimits"] = {"erp%": 1}
    problems = problems_for(raw)
    assert "must not contain any of / % & > <" in problems["platform.pools[0].name"]
    assert "must not contain any of / % & > <" in problems["platform.concurrencyLimits[0].name"]
    assert "must not contain any of / % & > <" in problems["platform.tagLimits.erp%"]
    assert (
        "lowercase letters, numbers, and dashes or underscores" in problems["platform.variables.RPA3_timeout"]
    )
    assert "production_" + "x" * 250 in problems["platform.variables." + "x" * 250]
    assert "less than 5000 characters" in problems["platform.variables.rpa3_blob"]


def test_default_queue_and_unknown_job_variables_are_refused() -> None:
    raw = valid()
    raw["platform"]["queues"].append({"pool": "rpa-docker", "name": "default"})
    raw["platform"]["pools"][0]["jobDefaults"]["memLimt"] = "2g"
    problems = problems_for(raw)
    assert "made by Prefect in every pool" in problems["platform.queues[1].name"]
    reason = problems["platform.pools[0].jobDefaults.memLimt"]
    assert "not a job variable of the 'docker' template" in reason
    assert "mem_limit" in reason


def test_worker_image_and_docker_host() -> None:
    raw = valid()
    del raw["platform"]["pools"][0]["jobDefaults"]["image"]
    raw["platform"]["workers"][0]["dockerHost"] = "/var/run/docker.sock"
    problems = problems_for(raw)
    assert "required: pool 'rpa-docker' has no jobDefaults.image" in problems["platform.workers[0].image"]
    assert "must start with one of unix://, tcp://, ssh://" in problems["platform.workers[0].dockerHost"]


def test_missing_environment_is_required() -> None:
    raw = valid()
    del raw["environment"]
    assert problems_for(raw) == {"environment": "required"}


@pytest.mark.parametrize(
    ("path", "value", "key", "message"),
    [
        (
            "platform.pools.0.jobDefaults.imagePullPolicy",
            "Sometimes",
            "platform.pools[0].jobDefaults.imagePullPolicy",
            "expected one of IfNotPresent, Always, IfPossible, Never",
        ),
        (
            "platform.pools.0.jobDefaults.memLimit",
            5,
            "platform.pools[0].jobDefaults.memLimit",
            "expected string",
        ),
        ("platform.pools.0.jobDefaults.env", "A=1", "platform.pools[0].jobDefaults.env", "expected object"),
        (
            "platform.workers.0.env",
            {"PREFECT_API_URL": "http://elsewhere/api"},
            "platform.workers[0].env.PREFECT_API_URL",
            "set by the platform",
        ),
        (
            "platform.concurrencyLimits.1.slotDecayPerSecond",
            float("inf"),
            "platform.concurrencyLimits[1].slotDecayPerSecond",
            "finite number",
        ),
        (
            "platform.variables.rpa3_max_concurrent_tasks",
            "15",
            "platform.variables.rpa3_max_concurrent_tasks",
            "an integer from 1",
        ),
        (
            "platform.variables.rpa3_max_concurrent_tasks",
            0,
            "platform.variables.rpa3_max_concurrent_tasks",
            "an integer from 1",
        ),
        ("platform.variables.rpa1_timeout", -5, "platform.variables.rpa1_timeout", "a number from 1"),
        ("prefectApiUrl", "http://admin:pw@127.0.0.1:4200/api", "prefectApiUrl", "must not hold credentials"),
    ],
)
def test_values_the_platform_or_the_flows_could_not_use(
    path: str, value: Any, key: str, message: str
) -> None:
    refusal(path, value, key, message)


def test_a_stack_file_whose_config_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config: [1, 2]\n")
    with pytest.raises(SettingsError, match="`config:` must be a mapping"):
        from_stack_file(path)


def test_a_plaintext_credential_in_a_stack_file_is_refused(tmp_path: Path) -> None:
    document = {"config": {f"rpa-platform:{key}": value for key, value in valid().items()}}
    document["config"]["rpa-platform:prefectApiKey"] = "pnu_plaintext"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SettingsError) as raised:
        from_stack_file(path)
    assert "must be stored encrypted: pulumi config set --secret prefectApiKey" in str(raised.value)
    assert "pnu_plaintext" not in str(raised.value)


def test_a_limit_name_the_runtime_keeps_for_its_waiters_is_refused() -> None:
    raw = valid()
    raw["platform"]["concurrencyLimits"][0]["name"] = "erp-api-waiters"
    problems = problems_for(raw)
    assert "the runtime's" in problems["platform.concurrencyLimits[0].name"]

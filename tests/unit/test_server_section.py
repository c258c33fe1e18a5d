"""The `server:` section (a stack's own Prefect server) and its secret: every rule, with the message a stack
author gets, naming the file and the key; the password never echoed."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.stack_files.settings import (
    DEFAULT_DATABASE_IMAGE,
    DEFAULT_SERVER_IMAGE,
    SettingsError,
    StackSettings,
)
from infra.stack_files.stack_config import from_stack_file, parse_stack_settings, read_stack_document
from tests.support.self_hosted_stack import EXAMPLE, PASSWORD, SOURCE, STACK, example_raw


def parsed(raw: dict[str, Any]) -> StackSettings:
    return parse_stack_settings(STACK, SOURCE, raw)


def problems_for(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as raised:
        parsed(raw)
    message = str(raised.value)
    assert message.startswith(SOURCE), "the error names the stack file"
    assert PASSWORD not in message, "the password is never echoed"
    return {problem.property: problem.reason for problem in raised.value.problems}


def with_server(**changes: Any) -> dict[str, Any]:
    raw = example_raw()
    raw["server"] = {**raw["server"], **changes}
    return raw


def stack_file_with(tmp_path: Path, password: Any) -> Path:
    document = copy.deepcopy(read_stack_document(EXAMPLE))
    document["config"]["rpa-platform:serverDatabasePassword"] = password
    path = tmp_path / SOURCE
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_example_is_valid_with_its_password_encrypted(tmp_path: Path) -> None:
    settings = from_stack_file(stack_file_with(tmp_path, {"secure": "v1:abc"}))
    server = settings.config.server
    assert server is not None
    assert (server.port, server.database.port, server.lease_storage) == (4300, 15432, "filesystem")
    assert settings.config.prefect_api_url == server.api_url == "http://127.0.0.1:4300/api"
    assert "v1:abc" not in repr(settings)


def test_defaults_are_the_official_images_leases_on_disk_and_the_default_url() -> None:
    raw = example_raw()
    raw["server"] = {}
    del raw["prefectApiUrl"]  # the default URL is the default port's
    server = parsed(raw).config.server
    assert server is not None
    assert (server.image, server.database.image) == (DEFAULT_SERVER_IMAGE, DEFAULT_DATABASE_IMAGE)
    assert DEFAULT_SERVER_IMAGE == "prefecthq/prefect:3.9.1-python3.11"
    assert DEFAULT_DATABASE_IMAGE == "postgres:15"
    assert (server.port, server.database.port) == (4200, 5432)
    assert (server.database.name, server.database.user) == ("prefect", "prefect")
    assert server.lease_storage == "filesystem"
    assert server.docker_host == "unix:///var/run/docker.sock"


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"port": 80}, "server.port", "greater than or equal to 1024 (got 80)"),
        ({"port": 70000}, "server.port", "less than or equal to 65535 (got 70000)"),
        ({"port": "4300"}, "server.port", "valid integer"),
        ({"database": {"port": 0}}, "server.database.port", "greater than or equal to 1024"),
        ({"leaseStorage": "redis"}, "server.leaseStorage", "'filesystem' or 'memory' (got 'redis')"),
        ({"database": {"user": "Robert'); DROP"}}, "server.database.user", "should match pattern"),
        ({"database": {"name": ""}}, "server.database.name", "should match pattern"),
        ({"image": ""}, "server.image", "at least 1 character"),
        ({"leaseStorge": "memory"}, "server.leaseStorge", "did you mean 'leaseStorage'?"),
    ],
)
def test_bad_values_are_refused_with_key_and_what_is_allowed(
    changes: dict[str, Any], key: str, message: str
) -> None:
    problems = problems_for(with_server(**changes))
    assert key in problems, problems
    assert message in problems[key]


def test_a_server_section_that_is_not_an_object() -> None:
    raw = example_raw()
    raw["server"] = "http://127.0.0.1:4300"
    assert "valid dictionary" in problems_for(raw)["server"]


def test_the_api_url_must_be_the_servers_own() -> None:
    raw = with_server(port=4400)
    problems = problems_for(raw)
    assert list(problems) == ["prefectApiUrl"], "one clear error"
    assert problems["prefectApiUrl"] == (
        "must be http://127.0.0.1:4400/api, the URL of the stack's own server (server.port 4400), so that its "
        "objects and workers land there (got http://127.0.0.1:4300/api)"
    )


def test_the_api_url_is_checked_without_showing_credentials() -> None:
    raw = example_raw()
    raw["prefectApiUrl"] = "https://api.prefect.cloud/api/accounts/a/workspaces/w"
    assert "must be http://127.0.0.1:4300/api" in problems_for(raw)["prefectApiUrl"]


def test_a_server_needs_its_database_password() -> None:
    problems = problems_for(example_raw(password=None))
    assert problems["serverDatabasePassword"] == (
        "required by `server:` (its database's password): pulumi config set --secret serverDatabasePassword "
        "<password>"
    )
    assert "serverDatabasePassword" in problems_for(example_raw(password=""))


def test_a_password_without_a_server_is_refused() -> None:
    raw = example_raw()
    del raw["server"]
    problems = problems_for(raw)
    assert "only a stack with a `server:` section uses it" in problems["serverDatabasePassword"]


def test_a_plaintext_password_in_a_stack_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        from_stack_file(stack_file_with(tmp_path, PASSWORD))
    message = str(raised.value)
    assert message.startswith(SOURCE)
    assert (
        "rpa-platform:serverDatabasePassword: is a credential and must be stored encrypted: pulumi config set "
        "--secret serverDatabasePassword <value>"
    ) in message
    assert PASSWORD not in message


def test_a_password_of_the_wrong_type_is_not_echoed() -> None:
    raw = example_raw()
    raw["serverDatabasePassword"] = 123456789
    problems = problems_for(raw)
    assert "123456789" not in str(problems)
    assert "valid string" in problems["serverDatabasePassword"]


def test_a_self_hosted_server_takes_no_api_key() -> None:
    raw = example_raw()
    raw["prefectApiKey"] = "pnu_key"
    problems = problems_for(raw)
    assert "prefectAuthString" in problems["prefectApiKey"]
    assert "pnu_key" not in str(problems)


def test_the_server_runs_on_this_machine() -> None:
    problems = problems_for(with_server(dockerHost="tcp://10.0.0.5:2376"))
    assert "must be a unix:// socket of this machine" in problems["server.dockerHost"]


def test_the_server_and_its_database_need_ports_of_their_own() -> None:
    problems = problems_for(with_server(database={"port": 4300}))
    assert problems["server.database.port"] == "is server.port too (4300); choose another"


def test_stacks_without_a_server_are_unchanged() -> None:
    raw = example_raw(password=None)
    del raw["server"]
    settings = parsed(raw)
    assert settings.config.server is None
    assert settings.config.server_database_password is None

"""`make list-config` and its JSON (what tools/loadtest reads): every stack, by the names its objects get."""

import json

import pytest

from infra.cli import list_config
from infra.stack_files.stack_config import STACKS


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert list_config.main(list(args)) == 0
    return capsys.readouterr().out


def test_json_lists_every_stack_by_the_names_on_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    stacks = {stack["stack"]: stack for stack in json.loads(listed(capsys, "--json"))}
    assert sorted(stacks) == sorted(STACKS)
    dev = stacks["dev"]
    assert (dev["environment"], dev["source"], dev["prefectApiUrl"]) == (
        "development",
        "Pulumi.dev.yaml",
        "http://127.0.0.1:4200/api",
    )
    assert [pool["name"] for pool in dev["workPools"]] == ["dev-rpa-docker"]
    assert dev["variables"]["development_rpa3_max_concurrent_tasks"] == 5
    rate = next(limit for limit in dev["concurrencyLimits"] if limit["name"] == "dev-erp-api-rate")
    assert (rate["limit"], rate["slotDecayPerSecond"], rate["adaptiveFloor"]) == (10, 10, None)
    assert dev["workers"][0]["arguments"][:2] == ["--pool", "dev-rpa-docker"]


def test_the_text_says_what_the_json_says(capsys: pytest.CaptureFixture[str]) -> None:
    stacks = json.loads(listed(capsys, "--json"))
    text = listed(capsys)
    assert text == "\n".join(map(list_config.as_text, stacks)) + "\n"
    assert "  limit         dev-erp-api-rate: 10, 10 slots/s\n" in text


def test_api_url_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(capsys, "--api-url", "prod") == "http://127.0.0.1:4200/api\n"

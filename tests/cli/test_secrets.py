"""The stack's Prefect credentials, set with `pulumi config set --secret`, reach a server that requires them and
appear in plaintext nowhere: not in the state, not in `pulumi stack export`, not in what the CLI prints, and
not in its engine log up to verbosity 8 (at 9 Pulumi's engine logs the decrypted provider configuration:
tools/pulumi/FACTS.md)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prefect_server import PrefectServer
from tests.support.prefect_server import auth_server as started_auth_server
from tests.support.pulumi_cli import PulumiProject, Result, pulumi_cli_or_skip

VERBOSITY = 8


@pytest.fixture
def auth_server() -> Iterator[PrefectServer]:
    pulumi_cli_or_skip()
    with started_auth_server(f"pw-{uuid.uuid4().hex}") as server:
        yield server


def test_credentials_stay_secret(tmp_path: Path, auth_server: PrefectServer) -> None:
    assert auth_server.auth_string is not None
    password = auth_server.auth_string.split(":", 1)[1]
    api_key = f"pnu_{uuid.uuid4().hex}"
    project = PulumiProject.copy(tmp_path, auth_server.api_url)
    project.init("dev")
    printed: list[Result] = []
    for key, value in (("prefectAuthString", auth_server.auth_string), ("prefectApiKey", api_key)):
        # From standard input, so the value is not in any process's arguments either.
        printed.append(
            project.pulumi(
                "config", "set", "--secret", "--stack", "dev", f"rpa-platform:{key}", input_text=value
            )
        )
    try:
        printed.append(project.up("dev", "--policy-pack", "infra/policies"))
        printed.append(project.preview("dev", "--expect-no-changes", "--logtostderr", f"-v={VERBOSITY}"))
        printed.append(project.refresh("dev", "--expect-no-changes"))
        printed.append(project.pulumi("stack", "output", "--stack", "dev", "--json"))
        printed.append(project.pulumi("stack", "export", "--stack", "dev"))
        places = {f"output of `{' '.join(r.args[1:4])}`": r.output for r in printed}
        places |= {
            str(path): path.read_text(errors="replace") for path in project.state.rglob("*") if path.is_file()
        }
        places[project.stack_file("dev").name] = project.stack_file("dev").read_text()
        for place, text in places.items():
            for secret in (password, api_key):
                assert secret not in text, f"a secret in plaintext in {place}"
    finally:
        project.destroy("dev")

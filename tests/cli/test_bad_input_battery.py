"""The bad-input battery (tests/cli/bad_stack_files.py): every malformed stack file is refused by `make check`
and by the program under the real CLI, naming the file and the key, without a traceback, without echoing a
secret, and leaving nothing on the Prefect server. Each part runs the whole table and reports every row that
fails at once."""

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from infra.stack_files.stack_config import PROJECT_ROOT
from tests.cli.bad_stack_files import (
    API_KEY,
    API_KEY_SECRET,
    AUTH,
    AUTH_STRING_SECRET,
    CASES,
    PLACEHOLDERS,
    SECRETS,
    BadStackFile,
    Encrypted,
)
from tests.support.prefect_server import PrefectServer
from tests.support.pulumi_cli import PulumiProject, Result

CHECK_TIMEOUT = 300
PREVIEW_TIMEOUT = 120
PARALLEL_PREVIEWS = 2  # Each preview waits on its own processes part of the time.
TRACEBACK = ("Traceback", 'File "')


def refusal_problems(case: BadStackFile, output: str, refusal: str) -> list[str]:
    """What is wrong with a refusal of `case` (`output` is everything printed, `refusal` the case's part)."""
    problems = []
    if not refusal:
        problems.append("not refused")
    if case.pulumi_says is None and f"Pulumi.{case.name}.yaml" not in refusal:
        problems.append("the file is not named")
    if case.key not in refusal:
        problems.append(f"{case.key!r} is not named")
    if any(mark in output for mark in TRACEBACK):
        problems.append("a traceback")
    if any(secret in output for secret in SECRETS):
        problems.append("a secret echoed")
    return problems


def check_blocks(stderr: str) -> dict[str, str]:
    """`make check`'s complaints by file: a block starts at a line naming `Pulumi.<stack>.yaml`."""
    blocks: dict[str, str] = {}
    current = None
    for line in stderr.splitlines():
        if line.startswith("Pulumi."):
            current = line.split(":", 1)[0]
        if current:
            blocks[current] = blocks.get(current, "") + line + "\n"
    return blocks


def test_make_check_refuses_every_bad_stack_file(tmp_path: Path) -> None:
    for case in CASES:
        case.write(tmp_path, "http://127.0.0.1:4200/api", PLACEHOLDERS)
    (tmp_path / "Pulumi.valid.yaml").write_text(
        BadStackFile("valid", "", "").document("http://127.0.0.1:4200/api", PLACEHOLDERS)
    )
    started = time.monotonic()
    check = subprocess.run(
        [sys.executable, "-m", "infra.cli.check", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
    )
    print(f"make check: {len(CASES)} bad stack files in {time.monotonic() - started:.1f} s")
    assert check.returncode == 1, check.stderr
    assert "Pulumi.valid.yaml: ok" in check.stdout, "the battery's base file is valid"
    blocks = check_blocks(check.stderr)
    failures = {
        case.name: problems
        for case in CASES
        if (
            problems := refusal_problems(
                case, check.stdout + check.stderr, blocks.get(f"Pulumi.{case.name}.yaml", "")
            )
        )
    }
    assert not failures, f"{failures}\n--- stdout\n{check.stdout}\n--- stderr\n{check.stderr}"


@pytest.fixture
def battery_project(tmp_path: Path, cli_server: PrefectServer) -> PulumiProject:
    """A copy of the project whose stacks are only ever previewed: nothing to destroy (the `project` fixture
    would try, and Pulumi cannot even load a stack whose file is malformed)."""
    return PulumiProject.copy(tmp_path, cli_server.api_url)


def encrypted_credentials(project: PulumiProject) -> Encrypted:
    """The battery's credentials encrypted once, as `pulumi config set --secret` does; every bad stack file
    carries this salt and these ciphertexts (the passphrase is the project's)."""
    project.init("battery-credentials")
    for key, value in ((API_KEY, API_KEY_SECRET), (AUTH, AUTH_STRING_SECRET)):
        project.pulumi("config", "set", "--secret", "--stack", "battery-credentials", key, input_text=value)
    document = project.read_stack_file("battery-credentials")
    config = document["config"]
    return Encrypted(document["encryptionsalt"], config[API_KEY]["secure"], config[AUTH]["secure"])


def server_objects(client: SyncPrefectClient) -> set[str]:
    pools = {f"pool {pool.name}" for pool in client.read_work_pools()}
    limits = {f"limit {limit.name}" for limit in client.read_global_concurrency_limits(limit=200)}
    variables = {f"variable {variable.name}" for variable in client.read_variables()}
    return pools | limits | variables


def preview(project: PulumiProject, case: BadStackFile, encrypted: Encrypted) -> Result:
    project.pulumi("stack", "init", case.name)
    case.write(project.root, project.api_url, encrypted)
    return project.pulumi("preview", "--stack", case.name, expect=None, timeout=PREVIEW_TIMEOUT)


def refusal_by_the_program(case: BadStackFile, result: Result) -> list[str]:
    """What is wrong with how `pulumi preview` refused `case`."""
    refused = result.returncode != 0
    if case.pulumi_says is None:
        problems = refusal_problems(case, result.output, result.output if refused else "")
        if "invalid stack settings" not in result.output:
            problems.append("not refused by the program's validation")
        return problems
    if not (refused and case.pulumi_says in result.output):
        return ["not refused by Pulumi"]
    # Pulumi reads the file before the program runs; its message names the line, not the file or key.
    return [p for p in refusal_problems(case, result.output, result.output) if "is not named" not in p]


def test_the_program_refuses_every_bad_stack_file(
    battery_project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    encrypted = encrypted_credentials(battery_project)
    before = server_objects(cli_client)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL_PREVIEWS) as pool:
        results = dict(
            zip(CASES, pool.map(lambda case: preview(battery_project, case, encrypted), CASES), strict=True)
        )
    seconds = time.monotonic() - started
    print(f"pulumi preview: {len(CASES)} bad stack files in {seconds:.0f} s, {PARALLEL_PREVIEWS} at a time")
    assert server_objects(cli_client) == before, "nothing may be left on the server"
    failures = {
        case.name: (problems, result.describe())
        for case, result in results.items()
        if (problems := refusal_by_the_program(case, result))
    }
    report = "\n\n".join(f"{name}: {problems}\n{output}" for name, (problems, output) in failures.items())
    assert not failures, f"{len(failures)} of {len(CASES)} not refused as they must be:\n{report}"

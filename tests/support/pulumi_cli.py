"""The real Pulumi CLI on a copy of this project: the pinned CLI from `make pulumi-cli` (.build/bin), the local
file backend, a passphrase for secrets, and a Prefect server the caller names.

The copy holds the project's files (Pulumi.yaml, the stack files, infra/) with the project's virtualenvs
linked in; its stack files point at the caller's server, and keep their worker containers only when the test
asks for them (they are pulumi-docker containers on the local engine, which most tests do not need). Every
command is a child process in its own process group, killed whole when it outlives its timeout, with its
output in the failure message.
"""

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config_keys
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS, read_stack_document, stack_file

PULUMI_BIN = PROJECT_ROOT / ".build" / "bin"
PASSPHRASE = "rpa-platform-tests"
PLATFORM_KEY = config_keys.qualified(config_keys.PLATFORM)


def pulumi_cli_or_skip() -> Path:
    """The pinned CLI. In CI (RPA_REQUIRE_PULUMI_CLI=1) its absence fails the test; elsewhere it skips."""
    pulumi = PULUMI_BIN / "pulumi"
    if not pulumi.exists():
        reason = f"needs the pinned Pulumi CLI at {pulumi} (`make pulumi-cli`)"
        if os.environ.get("RPA_REQUIRE_PULUMI_CLI") == "1":
            pytest.fail(f"{reason} (RPA_REQUIRE_PULUMI_CLI=1: the CLI is required here)")
        pytest.skip(reason)
    return pulumi


class CommandFailed(AssertionError):
    """A CLI command ended otherwise than expected; the message holds the command and all it printed."""


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"$ {' '.join(self.args)}\n(exit {self.returncode})\n{self.stdout}\n{self.stderr}"


def run_command(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float, input_text: str | None = None
) -> Result:
    """Run a command in its own process group; on timeout kill the whole group and report its output."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        result = Result(args, -9, stdout, stderr)
        raise CommandFailed(f"timed out after {timeout:g} s and was killed:\n{result.describe()}") from None
    return Result(args, process.returncode, stdout, stderr)


@dataclass
class PulumiProject:
    """A copy of the project that the real CLI runs on."""

    root: Path
    state: Path
    api_url: str

    @classmethod
    def copy(cls, destination: Path, api_url: str, workers: bool = False) -> "PulumiProject":
        pulumi_cli_or_skip()
        root = destination / "project"
        shutil.copytree(
            PROJECT_ROOT / "infra",
            root / "infra",
            ignore=shutil.ignore_patterns("venv", ".venv", "__pycache__"),
        )
        shutil.copytree(PROJECT_ROOT / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("Pulumi.yaml", "prefect.yaml"):
            shutil.copy(PROJECT_ROOT / name, root)
        (root / ".venv").symlink_to(PROJECT_ROOT / ".venv")
        (root / "infra" / ".venv").symlink_to(PROJECT_ROOT / ".venv")  # pulumi/pulumi#7061, as `make setup`
        (root / "infra" / "policies" / "venv").symlink_to(PROJECT_ROOT / "infra" / "policies" / "venv")
        project = cls(root=root, state=destination / "state", api_url=api_url)
        project.state.mkdir()
        for stack in STACKS:
            document = read_stack_document(stack_file(stack))
            # The copy's stacks are new, with the tests' passphrase: a salt made for another one refuses it.
            document.pop("encryptionsalt", None)
            document["config"][config_keys.qualified(config_keys.API_URL)] = api_url
            if not workers:
                document["config"][PLATFORM_KEY].pop("workers", None)
            project.write_stack_file(stack, document)
        return project

    # --- the stack files ---------------------------------------------------------------------------------

    def stack_file(self, stack: str) -> Path:
        return stack_file(stack, self.root)

    def read_stack_file(self, stack: str) -> dict[str, Any]:
        return read_stack_document(self.stack_file(stack))

    def write_stack_file(self, stack: str, document: dict[str, Any]) -> None:
        self.stack_file(stack).write_text(yaml.safe_dump(document, sort_keys=False))

    def edit_platform(self, stack: str, edit: Callable[[dict[str, Any]], None]) -> None:
        """Change `rpa-platform:platform` of a stack file in place (the salt and secrets stay)."""
        document = self.read_stack_file(stack)
        edit(document["config"][PLATFORM_KEY])
        self.write_stack_file(stack, document)

    # --- the CLI -----------------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_API_", "PULUMI_"))  # The stack's config says where to go.
        }
        return {
            **env,
            "PATH": f"{PULUMI_BIN}{os.pathsep}{env.get('PATH', '')}",
            "PULUMI_BACKEND_URL": self.state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # Nothing is downloaded: every plugin the tests need is on this machine.
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }

    def pulumi(
        self, *args: str, expect: int | None = 0, timeout: float = 600, input_text: str | None = None
    ) -> Result:
        """Run `pulumi ARGS` in the project; fail (with everything it printed) unless it exits `expect`."""
        command = [str(PULUMI_BIN / "pulumi"), *args, "--non-interactive"]
        result = run_command(command, self.root, self.environment(), timeout, input_text)
        if expect is not None and result.returncode != expect:
            raise CommandFailed(f"expected exit {expect}:\n{result.describe()}")
        return result

    def stacks(self) -> list[str]:
        """The stacks this copy has state for."""
        listed = json.loads(self.pulumi("stack", "ls", "--json").stdout)
        return [stack["name"] for stack in listed]

    def init(self, stack: str) -> None:
        if self.pulumi("stack", "select", stack, expect=None).returncode != 0:
            self.pulumi("stack", "init", stack)

    def up(self, stack: str, *args: str, expect: int | None = 0) -> Result:
        self.init(stack)
        return self.pulumi("up", "--stack", stack, "--yes", "--skip-preview", *args, expect=expect)

    def preview(self, stack: str, *args: str, expect: int | None = 0) -> Result:
        self.init(stack)
        return self.pulumi("preview", "--stack", stack, *args, expect=expect)

    def preview_steps(self, stack: str, *args: str) -> dict[str, str]:
        """What a preview would do, by resource name: create, update, replace, delete, same ..."""
        preview = json.loads(self.preview(stack, "--json", *args).stdout)
        return {step["urn"].rsplit("::", 1)[-1]: step["op"] for step in preview.get("steps", [])}

    def refresh(self, stack: str, *args: str, expect: int | None = 0) -> Result:
        return self.pulumi("refresh", "--stack", stack, "--yes", "--skip-preview", *args, expect=expect)

    def destroy(self, stack: str, expect: int | None = 0) -> Result:
        return self.pulumi("destroy", "--stack", stack, "--yes", "--skip-preview", expect=expect)

    def deploy(self, stack: str) -> Result:
        """`prefect deploy` of the stack's deployments in the copy's prefect.yaml, as `make deploy` does."""
        names = [arg for flow in ("rpa1", "rpa2", "rpa3") for arg in ("--name", f"{flow}/{stack}")]
        command = [str(PROJECT_ROOT / ".venv" / "bin" / "prefect"), "--no-prompt", "deploy", *names]
        env = {**self.environment(), "PREFECT_API_URL": self.api_url}
        result = run_command(command, self.root, env, timeout=600)
        if result.returncode != 0:
            raise CommandFailed(f"prefect deploy failed:\n{result.describe()}")
        return result

    def export(self, stack: str) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export", "--stack", stack).stdout)

    def outputs(self, stack: str) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--stack", stack, "--json").stdout)

"""Where the stack lives: its Prefect API and its environment. The stack files are read by infra alone (one
home per rule), so this asks `python -m infra.cli.list_config` in a subprocess rather than importing infra."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from tools.loadtest.plan import PlanError


@dataclass(frozen=True)
class Target:
    stack: str
    environment: str
    api_url: str


def _list_config(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "infra.cli.list_config", *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        # infra's own message names the stack file and the problem; its first line is enough here.
        problem = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
        raise PlanError(problem[-1].strip() if problem else f"infra.cli.list_config {' '.join(args)} failed")
    return completed.stdout


def _environment_from_stack_file(stack: str) -> str:
    for listed in json.loads(_list_config("--json")):
        if listed["stack"] == stack:
            return listed["environment"]
    raise PlanError(
        f"unknown stack {stack!r}: no Pulumi.{stack}.yaml (pass --environment for a stack made elsewhere)"
    )


def resolve_target(stack: str, environment: str | None) -> Target:
    """PREFECT_API_URL when set (as every Prefect client does), else the API the stack file names."""
    if environment is None:
        environment = _environment_from_stack_file(stack)
    api_url = os.environ.get("PREFECT_API_URL") or _list_config("--api-url", stack).strip()
    return Target(stack=stack, environment=environment, api_url=api_url)

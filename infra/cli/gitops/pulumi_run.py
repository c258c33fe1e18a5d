"""`make preview` and `make up` of one stack, as the verbs run them (policy pack, `--refresh`), with the
engine's events streamed as JSON for the report."""

import os
import subprocess
from pathlib import Path

from infra.cli.gitops.engine_events import EngineRun, parse_events

POLICY_PACK = "infra/policies"
TIMEOUT_SECONDS = 1800  # a stack with workers waits for their health checks; a hang must still end


def run_pulumi(root: Path, stack: str, operation: str) -> EngineRun:
    """`preview` or `up` (with `--yes`) of `stack` in `root`; the CLI is the `pulumi` on PATH, which the
    Makefile puts first (.build/bin)."""
    select = ["pulumi", "stack", "select", "--create", stack, "--non-interactive"]
    selected = subprocess.run(select, cwd=root, capture_output=True, text=True, timeout=120, check=False)
    if selected.returncode != 0:
        # A wrong passphrase for the stack file's salt, an unreachable backend: say it, as one failure.
        return failed(f"pulumi stack select {stack}: {selected.stderr.strip() or selected.returncode}")
    command = ["pulumi", operation, "--stack", stack, "--policy-pack", POLICY_PACK, "--refresh", "--json"]
    command += ["--yes", "--skip-preview"] if operation == "up" else []
    # Without it, preview's --json is one digest at the end, which leaves policy violations out.
    env = {**os.environ, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    try:
        result = subprocess.run(
            [*command, "--non-interactive"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return failed(f"pulumi {operation} of {stack} did not end within {TIMEOUT_SECONDS} s and was stopped")
    run = parse_events(result.stdout.splitlines())
    if result.returncode != 0 and not (run.errors or run.violations):
        run.errors.append(result.stderr.strip() or f"pulumi {operation} exited {result.returncode}")
    if result.returncode != 0:
        run.result = "failed"
    return run


def failed(error: str) -> EngineRun:
    return EngineRun(errors=[error], result="failed")

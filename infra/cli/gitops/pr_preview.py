"""`make pr-preview BASE=<ref>`: a pull request's job. The stacks its committed change touches, `make check`,
then a preview of each touched stack with the policy pack (`--refresh`), summarised in Markdown."""

import subprocess
import sys
from pathlib import Path

from infra.cli.gitops.changed_stacks import changed_paths, touched_stacks, uncommitted_paths
from infra.cli.gitops.deployment_changes import deployment_changes
from infra.cli.gitops.pulumi_run import run_pulumi
from infra.cli.gitops.report import check_section, stack_section
from infra.stack_files.stack_config import from_stack_file, stack_file


def run_check(root: Path) -> tuple[bool, str]:
    """`make check` (python -m infra.cli.check) on `root`; its problems go to stderr."""
    command = [sys.executable, "-m", "infra.cli.check", str(root)]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    return result.returncode == 0, result.stderr or result.stdout


def touched_header(title: str, root: Path, base: str) -> tuple[list[str], list[str]]:
    paths = changed_paths(root, base)
    stacks = touched_stacks(paths)
    lines = [f"# {title}: `{base}...HEAD`", ""]
    lines.append(f"Touched stacks: {', '.join(stacks) or 'none'} ({len(paths)} file(s) changed).")
    if uncommitted := uncommitted_paths(root):
        lines.append(f"Uncommitted (not part of the change): {', '.join(uncommitted)}.")
    return [*lines, ""], stacks


def pr_preview(root: Path, base: str) -> tuple[list[str], list[str]]:
    """(summary lines, failures): every touched stack is previewed, so one summary shows every problem."""
    lines, stacks = touched_header("Pull request preview", root, base)
    passed, output = run_check(root)
    lines += check_section(passed, output)
    if not passed:
        first = next((line for line in output.splitlines() if line.strip()), "")
        return lines, [f"make check failed: {first}"]
    failures = []
    for stack in stacks:
        run = run_pulumi(root, stack, "preview")
        settings = from_stack_file(stack_file(stack, root))
        heading = "preview" if run.ok else "preview **failed**"
        lines += stack_section(stack, heading, run, deployment_changes(root, base, settings))
        failures += [f"{stack}: policy violation {v.policy}: {v.message}" for v in run.violations]
        if not run.ok and not run.violations:
            failures.append(f"{stack}: preview failed: {run.first_problem()}")
    return lines, failures

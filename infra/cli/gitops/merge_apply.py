"""`make merge-apply BASE=<ref>`: a merge's job. `make check`, then each touched stack in promotion order
(dev -> staging -> prod): `pulumi up --refresh` with the policy pack (as `make up`), `make deploy`, and
`make status` as the gate before the next stack. It stops at the first failure, naming it."""

import subprocess
from pathlib import Path

from infra.cli.gitops.pr_preview import run_check, touched_header
from infra.cli.gitops.pulumi_run import run_pulumi
from infra.cli.gitops.report import check_section, stack_section

OUTPUT_TAIL_LINES = 15
VERB_TIMEOUT_SECONDS = 900


def run_verb(root: Path, verb: str, stack: str) -> tuple[int, str]:
    try:
        result = subprocess.run(
            ["make", "--no-print-directory", verb, f"STACK={stack}"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=VERB_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode(errors="replace")  # bytes, whatever text=True says
        return -1, f"{output}\nmake {verb} did not end within {VERB_TIMEOUT_SECONDS} s and was stopped"
    return result.returncode, result.stdout + result.stderr


def merge_apply(root: Path, base: str, only: str | None = None) -> tuple[list[str], list[str]]:
    """(report lines, failures): at most one failure, the one that stopped the apply. `only`: apply that
    stack alone if the change touches it (a CI job per stack, each behind its environment's approval)."""
    lines, stacks = touched_header("Merge apply", root, base)
    if only is not None:
        lines += [f"Applying {only} only{'' if only in stacks else ': not touched, nothing to do'}.", ""]
        stacks = [stack for stack in stacks if stack == only]
    passed, output = run_check(root)
    lines += check_section(passed, output)
    if not passed:
        first = next((line for line in output.splitlines() if line.strip()), "")
        return lines, [f"make check failed: {first}"]
    for index, stack in enumerate(stacks):
        run = run_pulumi(root, stack, "up")
        if not run.ok:
            lines += stack_section(stack, "up **failed**", run)
            return stopped(lines, stacks[index + 1 :]), [f"{stack}: pulumi up failed: {run.first_problem()}"]
        lines += stack_section(stack, "applied", run)
        for verb in ("deploy", "status"):
            code, text = run_verb(root, verb, stack)
            if code != 0:
                tail = text.strip().splitlines()[-OUTPUT_TAIL_LINES:]
                lines += ["", f"`make {verb} STACK={stack}`: **exit {code}**", "```", *tail, "```", ""]
                return stopped(lines, stacks[index + 1 :]), [f"{stack}: make {verb} exited {code}"]
            lines.append(f"`make {verb} STACK={stack}`: ok")
        lines.append("")
    return lines, []


def stopped(lines: list[str], skipped: list[str]) -> list[str]:
    return [*lines, f"Stopped here; not applied: {', '.join(skipped)}." if skipped else "Stopped here.", ""]

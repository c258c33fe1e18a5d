"""The GitOps apply workflow against the list of stacks (`make check`): a merge applies every stack in
`STACKS`, one job each, each job after the one of the stack before it. A stack added to the list but not
to the workflow would never be applied on merge."""

import itertools
from pathlib import Path
from typing import Any

import yaml

from infra.stack_files.stack_config import STACKS

APPLY_WORKFLOW = Path(".github/workflows/apply.yml")
STACK_JOB = "./.github/workflows/apply-stack.yml"


def apply_workflow_problems(root: Path) -> list[str]:
    """The problems of `root`'s apply workflow; none when `root` has no workflow (a copy without GitOps)."""
    path = root / APPLY_WORKFLOW
    if not path.exists():
        return []
    jobs: dict[str, Any] = (yaml.safe_load(path.read_text()) or {}).get("jobs") or {}
    job_of = {
        str((job.get("with") or {}).get("stack")): (name, job)
        for name, job in jobs.items()
        if isinstance(job, dict) and job.get("uses") == STACK_JOB
    }
    if sorted(job_of) != sorted(STACKS):
        return [
            f"{APPLY_WORKFLOW}: jobs: apply {', '.join(sorted(job_of)) or 'no stack'}, but the stacks are "
            f"{', '.join(STACKS)} (STACKS in infra/stack_files/stack_config.py): one job `uses: {STACK_JOB}` "
            "per stack"
        ]
    problems = []
    # GitHub runs jobs by their `needs`, not in the file's order.
    for before, stack in itertools.pairwise(STACKS):
        (before_name, _job), (name, job) = job_of[before], job_of[stack]
        if job.get("needs") != before_name:
            problems.append(
                f"{APPLY_WORKFLOW}: jobs.{name}.needs: {job.get('needs')!r}, must be {before_name!r}: "
                f"{stack} is applied after {before}"
            )
    return problems

"""`make check` holds the GitOps apply workflow to the list of stacks: every stack applied on merge, in order."""

import shutil
from pathlib import Path

import yaml

from infra.stack_files.stack_config import PROJECT_ROOT, STACKS
from infra.stack_files.workflow_check import APPLY_WORKFLOW, apply_workflow_problems

# The shipped workflow names each stack's job after the stack.
FIRST, LAST = STACKS[0], STACKS[-1]


def workflow_copy(tmp_path: Path) -> Path:
    (tmp_path / APPLY_WORKFLOW).parent.mkdir(parents=True)
    return Path(shutil.copy(PROJECT_ROOT / APPLY_WORKFLOW, tmp_path / APPLY_WORKFLOW))


def test_the_shipped_workflow_applies_every_stack_in_order() -> None:
    assert apply_workflow_problems(PROJECT_ROOT) == []


def test_a_stack_the_workflow_does_not_apply_is_refused(tmp_path: Path) -> None:
    path = workflow_copy(tmp_path)
    workflow = yaml.safe_load(path.read_text())
    del workflow["jobs"][LAST]
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    assert apply_workflow_problems(tmp_path) == [
        f".github/workflows/apply.yml: jobs: apply {', '.join(sorted(STACKS[:-1]))}, but the stacks are "
        f"{', '.join(STACKS)} (STACKS in infra/stack_files/stack_config.py): one job "
        "`uses: ./.github/workflows/apply-stack.yml` per stack"
    ]


def test_a_stack_applied_out_of_order_is_refused(tmp_path: Path) -> None:
    path = workflow_copy(tmp_path)
    workflow = yaml.safe_load(path.read_text())
    workflow["jobs"][LAST]["needs"] = FIRST
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    assert apply_workflow_problems(tmp_path) == [
        f".github/workflows/apply.yml: jobs.{LAST}.needs: {FIRST!r}, must be {STACKS[-2]!r}: {LAST} is applied "
        f"after {STACKS[-2]}"
    ]


def test_a_copy_without_gitops_has_nothing_to_agree_with(tmp_path: Path) -> None:
    assert apply_workflow_problems(tmp_path) == []

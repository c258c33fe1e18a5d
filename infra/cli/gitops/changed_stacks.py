"""Which stacks a change touches, from the files it changes.

The change is the committed diff `git diff BASE...HEAD` (what the pull request or the merge holds, from the
point where it left BASE): uncommitted edits select nothing, because a pull request cannot carry them.
"""

import subprocess
from collections.abc import Iterable
from pathlib import Path

from infra.stack_files.stack_config import STACKS, stack_of

# What every stack is built from: a change to any of these may change what any stack's `up` or `deploy` does.
SHARED_PATHS = ("Pulumi.yaml", "prefect.yaml", "pyproject.toml")
# tools/pulumi and tools/pulumi-docker are the engine and pulumi-docker's plugin every stack is applied with.
SHARED_DIRECTORIES = ("infra/", "flows/", "rpa_naming/", "tools/pulumi/", "tools/pulumi-docker/")


class GitError(Exception):
    """git refused (an unknown BASE, not a repository); the message is git's."""


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {result.stderr.strip() or f'exit {result.returncode}'}")
    return result.stdout


def changed_paths(root: Path, base: str) -> list[str]:
    """Files changed between the merge base of BASE and HEAD, and HEAD (renames count on both sides)."""
    return sorted(set(git(root, "diff", "--name-only", "--no-renames", f"{base}...HEAD").splitlines()))


def touched_stacks(paths: Iterable[str], stacks: Iterable[str] = STACKS) -> list[str]:
    """The stacks (in promotion order) that `paths` touch: a stack file its stack, a shared file all of them,
    anything else (docs, README, tests, workflows) none."""
    stacks = list(stacks)
    touched: set[str] = set()
    for path in paths:
        if path in SHARED_PATHS or path.startswith(SHARED_DIRECTORIES):
            return stacks
        if "/" not in path and path.startswith("Pulumi.") and path.endswith(".yaml"):
            touched.add(stack_of(Path(path)))
    return [stack for stack in stacks if stack in touched]


def uncommitted_paths(root: Path) -> list[str]:
    """Files with uncommitted changes: the previews include them, the stack selection does not."""
    return sorted(line[3:] for line in git(root, "status", "--porcelain").splitlines() if line.strip())

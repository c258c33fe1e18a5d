"""A PulumiProject copy made a git repository, so the GitOps verbs have a history to diff: `main` holds the
copy as it was made, and a test commits its pull request on a branch of its own."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.stack_files.stack_config import PROJECT_ROOT
from tests.support.pulumi_cli import PulumiProject, Result, run_command

# The copy's links to the project's virtualenvs are not part of the change.
IGNORED = (".venv", "infra/.venv", "infra/policies/venv", "__pycache__/", ".build/")
AUTHOR = {"GIT_AUTHOR_NAME": "tests", "GIT_AUTHOR_EMAIL": "tests@127.0.0.1"}


@dataclass
class GitProject:
    project: PulumiProject

    @classmethod
    def create(cls, project: PulumiProject) -> "GitProject":
        """`git init` on `main` with the copy committed; the Makefile comes along for `make deploy|status`."""
        shutil.copy(PROJECT_ROOT / "Makefile", project.root)
        (project.root / ".gitignore").write_text("\n".join(IGNORED) + "\n")
        repository = cls(project)
        repository.git("init", "--initial-branch=main")
        repository.commit("the platform as shipped")
        return repository

    @property
    def root(self) -> Path:
        return self.project.root

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            **AUTHOR,
            "GIT_COMMITTER_NAME": "tests",
            "GIT_COMMITTER_EMAIL": "tests@127.0.0.1",
        }
        result = subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def pull_request(self, branch: str) -> None:
        """A new branch from main, checked out (the working tree clean)."""
        self.git("checkout", "--quiet", "main")
        self.git("checkout", "--quiet", "-b", branch)

    def merge(self, branch: str) -> str:
        """Fast-forward main to `branch`; the commit main was at before (a push's `before`)."""
        self.git("checkout", "--quiet", "main")
        before = self.git("rev-parse", "HEAD")
        self.git("merge", "--quiet", "--ff-only", branch)
        return before

    def gitops(self, verb: str, base: str, out: Path) -> Result:
        """`make pr-preview|merge-apply BASE=...` as the Makefile runs it: the module, in the copy, with the
        copy's environment (its state backend and passphrase, the pinned CLI first on PATH)."""
        command = [
            str(PROJECT_ROOT / ".venv" / "bin" / "python"),
            "-m",
            "infra.cli.gitops",
            verb,
            "--base",
            base,
        ]
        return run_command([*command, "--out", str(out)], self.root, self.project.environment(), timeout=1200)

    def make(self, verb: str, stack: str) -> Result:
        """`make VERB STACK=...` in the copy, with the copy's environment."""
        command = ["make", "--no-print-directory", verb, f"STACK={stack}"]
        return run_command(command, self.root, self.project.environment(), timeout=600)

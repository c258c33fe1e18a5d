"""`make pr-preview` and `make merge-apply` end to end: a git repository made of a copy of the project, its
three stacks applied by the real engine on a fresh Prefect server, and pull requests committed on branches.
The summaries are written to the pytest tmp directory (`gitops-*.md`); docs/gitops.md shows two of them."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from infra.stack_files.stack_config import STACKS
from tests.support.git_project import GitProject
from tests.support.prefect_server import PrefectServer
from tests.support.pulumi_cli import PulumiProject

POLICY_PACK = ("--policy-pack", "infra/policies")
MAX_CONCURRENT = "rpa3_max_concurrent_tasks"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, cli_server: PrefectServer) -> Iterator[GitProject]:
    """The three stacks applied (copies without workers), then committed as `main`; destroyed after."""
    project = PulumiProject.copy(tmp_path_factory.mktemp("gitops"), cli_server.api_url)
    for stack in STACKS:
        project.up(stack, *POLICY_PACK)
    # After the first `up`: creating a stack writes its encryption salt into its file, which main then holds.
    yield GitProject.create(project)
    # merge-apply deployed flows into the pools; the queues refuse deletion while deployments target them.
    with SyncPrefectClient(cli_server.api_url) as client:
        for deployment in client.read_deployments():
            client.delete_deployment(deployment.id)
    for stack in project.stacks():
        project.destroy(stack)


def set_variable(repository: GitProject, stack: str, value: int) -> None:
    repository.project.edit_platform(
        stack, lambda platform: platform["variables"].update({MAX_CONCURRENT: value})
    )


def stack_sections(summary: str) -> dict[str, str]:
    """`## <stack>: ...` sections of a summary, by stack."""
    sections = summary.split("\n## ")[1:]
    return {section.split(":", 1)[0]: section for section in sections}


def test_a_one_value_change_previews_that_variable_in_its_stack_only(
    repository: GitProject, tmp_path: Path
) -> None:
    repository.pull_request("staging-width-9")
    set_variable(repository, "staging", 9)
    repository.commit("staging: rpa3 width 8 -> 9")

    out = tmp_path / "gitops-pr-preview.md"
    result = repository.gitops("pr-preview", "main", out)
    assert result.returncode == 0, result.describe()
    summary = out.read_text()
    assert summary in result.stdout, result.describe()
    assert list(stack_sections(summary)) == ["staging"], summary
    changes = [line for line in summary.splitlines() if line.startswith("- ")]
    assert changes == ["- update Variable `staging_rpa3_max_concurrent_tasks`: value 8 → 9"], summary
    assert "Resources: 1 update, " in summary, summary
    assert "Policy violations" not in summary and "Deployments: unchanged." in summary, summary
    assert len(summary.splitlines()) <= 40, summary


def test_a_budget_break_between_stacks_fails_naming_it(repository: GitProject, tmp_path: Path) -> None:
    repository.pull_request("prod-below-staging")
    set_variable(repository, "prod", 7)  # staging has 8: prod's limits must not be below staging's
    repository.commit("prod: rpa3 width 15 -> 7")

    out = tmp_path / "gitops-check.md"
    result = repository.gitops("pr-preview", "main", out)
    assert result.returncode == 1, result.describe()
    problem = f"variable {MAX_CONCURRENT}: prod has 7, below staging's 8"
    assert f"FAILED: make check failed: environments: {problem}" in result.stderr, result.describe()
    assert problem in out.read_text() and not stack_sections(out.read_text()), out.read_text()


def test_a_policy_violation_fails_naming_the_policy(repository: GitProject, tmp_path: Path) -> None:
    # The stack validation refuses whatever a stack file could do to break a policy; a program change that
    # declares what validation would refuse stands in for one that bypasses it (as in test_up.py).
    repository.pull_request("bypass-limit")
    program = repository.root / "infra" / "__main__.py"
    program.write_text(
        program.read_text()
        + "\nfrom infra.prefect_resources.global_concurrency_limit import (\n"
        + "    GlobalConcurrencyLimit,\n    GlobalConcurrencyLimitInputs,\n)\n\n"
        + "if pulumi.get_stack() == 'staging':\n"
        + "    GlobalConcurrencyLimit('bypass', GlobalConcurrencyLimitInputs(name='staging-bypass', limit=0))\n"
    )
    repository.commit("a limit the stack file cannot express")

    out = tmp_path / "gitops-policy.md"
    result = repository.gitops("pr-preview", "main", out)
    assert result.returncode == 1, result.describe()
    failures = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert failures == [
        "pr-preview: FAILED: staging: policy violation no-zero-limit-unless-inactive: concurrency limit "
        "'staging-bypass' is 0 while active: nothing it guards can run; set active: false"
    ], result.describe()
    assert list(stack_sections(out.read_text())) == list(STACKS), out.read_text()  # infra/ touches all


def test_a_change_to_flows_previews_every_stack(repository: GitProject, tmp_path: Path) -> None:
    repository.pull_request("flows-comment")
    flow = repository.root / "flows" / "rpa3" / "flow.py"
    flow.write_text(flow.read_text() + "\n# a comment: nothing for Pulumi to change\n")
    repository.commit("flows: a comment")

    out = tmp_path / "gitops-flows.md"
    result = repository.gitops("pr-preview", "main", out)
    assert result.returncode == 0, result.describe()
    sections = stack_sections(out.read_text())
    assert list(sections) == list(STACKS), out.read_text()
    assert all("Changes: none." in section for section in sections.values()), out.read_text()


def test_merge_apply_converges_the_stack_and_a_second_changes_nothing(
    repository: GitProject, tmp_path: Path, cli_client: SyncPrefectClient
) -> None:
    repository.pull_request("staging-width-9-merged")
    set_variable(repository, "staging", 9)
    repository.commit("staging: rpa3 width 8 -> 9")
    before = repository.merge("staging-width-9-merged")

    out = tmp_path / "gitops-merge-apply.md"
    result = repository.gitops("merge-apply", before, out)
    assert result.returncode == 0, result.describe()
    report = out.read_text()
    assert list(stack_sections(report)) == ["staging"], report
    assert "- update Variable `staging_rpa3_max_concurrent_tasks`: value 8 → 9" in report, report
    assert "`make deploy STACK=staging`: ok" in report and "`make status STACK=staging`: ok" in report, report
    variable = cli_client.read_variable_by_name("staging_rpa3_max_concurrent_tasks")
    assert variable is not None and variable.value == 9

    status = repository.make("status", "staging")
    assert status.returncode == 0, status.describe()

    again = tmp_path / "gitops-merge-apply-again.md"
    result = repository.gitops("merge-apply", before, again)
    assert result.returncode == 0, result.describe()
    assert "Changes: none." in again.read_text() and "update" not in again.read_text(), again.read_text()

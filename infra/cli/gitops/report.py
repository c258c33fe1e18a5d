"""The Markdown that `make pr-preview` and `make merge-apply` write and print: per stack, the counts by
operation, each changed object by its name on the server with its fields old -> new, policy violations by
policy, and the deployments `make deploy` would move."""

from collections.abc import Sequence

from infra.cli.gitops.deployment_changes import DeploymentChange
from infra.cli.gitops.engine_events import EngineRun


def counts_line(run: EngineRun) -> str:
    changed_first = sorted(run.counts.items(), key=lambda item: item[0] == "same")
    counts = ", ".join(f"{n} {op}" for op, n in changed_first)
    return counts or "no resources"


def stack_section(
    stack: str, heading: str, run: EngineRun, deployments: Sequence[DeploymentChange] | None = None
) -> list[str]:
    lines = [f"## {stack}: {heading}", "", f"Resources: {counts_line(run)}."]
    lines += ["", "Changes:" if run.changes else "Changes: none."]
    lines += [f"- {change}" for change in run.changes]
    if run.violations:
        lines += ["", "Policy violations:"]
        lines += [f"- `{v.policy}` on {v.resource}: {v.message}" for v in run.violations]
    if run.errors:
        lines += ["", "Errors:", "```", *run.errors, "```"]
    if deployments is not None:
        lines += ["", "Deployments `make deploy` would change:" if deployments else "Deployments: unchanged."]
        lines += [f"- {change}" for change in deployments]
    return [*lines, ""]


def check_section(passed: bool, output: str) -> list[str]:
    if passed:
        return ["`make check`: ok", ""]
    return ["`make check`: **failed**", "", "```", output.strip(), "```", ""]

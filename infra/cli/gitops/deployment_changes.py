"""The deployments of a stack whose pool, queue or concurrency `make deploy` would change: prefect.yaml at
BASE against the working tree, for the deployments in that stack's pools."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.cli.gitops.changed_stacks import GitError, git
from infra.stack_files.settings import StackSettings

PREFECT_YAML = "prefect.yaml"


@dataclass(frozen=True)
class DeploymentChange:
    deployment: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        if self.old is None:
            return f"`{self.deployment}` added: {self.new}"
        if self.new is None:
            return f"`{self.deployment}` removed from prefect.yaml (`make deploy` leaves it on the server)"
        return f"`{self.deployment}`: {self.old} → {self.new}"


def deployment_changes(root: Path, base: str, stack: StackSettings) -> list[DeploymentChange]:
    pools = {stack.pool_name(pool.name) for pool in stack.platform.pools}
    try:
        # From where the change left BASE, as the stack selection: later commits on BASE are not the PR's.
        fork = git(root, "merge-base", base, "HEAD").strip()
        before = placements(yaml.safe_load(git(root, "show", f"{fork}:{PREFECT_YAML}")), pools)
    except GitError:  # prefect.yaml is new since BASE
        before = {}
    after = placements(yaml.safe_load((root / PREFECT_YAML).read_text()), pools)
    return [
        DeploymentChange(name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def placements(document: Any, pools: set[str]) -> dict[str, str]:
    """`flow/name` -> where it runs and how many at once, for the deployments into `pools`."""
    deployments = document.get("deployments") if isinstance(document, Mapping) else None
    found = {}
    for deployment in deployments or []:
        pool = deployment.get("work_pool") or {}
        if not isinstance(deployment, Mapping) or pool.get("name") not in pools:
            continue
        flow = str(deployment.get("entrypoint", "?")).rsplit(":", 1)[-1]
        found[f"{flow}/{deployment.get('name')}"] = (
            f"pool {pool.get('name')}, queue {pool.get('work_queue_name') or 'default'}, "
            f"concurrency {concurrency(deployment.get('concurrency_limit'))}"
        )
    return found


def concurrency(limit: Any) -> str:
    if isinstance(limit, Mapping):
        strategy = limit.get("collision_strategy")
        return f"{limit.get('limit')}" + (f" ({strategy})" if strategy else "")
    return "unlimited" if limit is None else str(limit)

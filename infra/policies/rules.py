"""The platform's policy rules as plain functions over the resources Pulumi passes to a policy: their type
tokens and input properties (a worker container's command and labels, a limit's numbers), never the stack
files, which are `infra.stack_files.stack_config`'s to read (rules between stacks:
`infra.stack_files.between_stacks`).

They import nothing but the standard library, so that the policy pack (which runs in its own virtualenv, with
the older protobuf/grpcio that pulumi-policy pins, without this project installed) and the project (its tests,
and the stack validation, which applies the zero-limit rule before anything is declared) share them unchanged.
Each rule returns the violations it finds, as messages.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

CONTAINER = "docker:index/container:Container"
WORK_POOL = "pulumi-python:dynamic/prefect:WorkPool"
WORK_QUEUE = "pulumi-python:dynamic/prefect:WorkQueue"
GLOBAL_LIMIT = "pulumi-python:dynamic/prefect:GlobalConcurrencyLimit"
TAG_LIMIT = "pulumi-python:dynamic/prefect:TaskRunConcurrencyLimit"

Resource = tuple[str, Mapping[str, Any]]
"""(type token, input properties), as the policy engine gives them."""


def worker_command(props: Mapping[str, Any]) -> list[str] | None:
    command = list(props.get("command") or [])
    return command if command[:3] == ["prefect", "worker", "start"] else None


def flag(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command[:-1] else None


def no_privileged_worker(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == CONTAINER and props.get("privileged"):
        return [
            f"container '{props.get('name')}' runs privileged: workers start flow runs through the mounted "
            "Docker socket and never need it"
        ]
    return []


def no_zero_limit_unless_inactive(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A limit of 0 stops everything it guards; that is only meant when the object is switched off."""
    name = props.get("name") or props.get("tag")
    if resource_type == GLOBAL_LIMIT and props.get("limit") == 0 and props.get("active", True):
        return [f"concurrency limit '{name}' is 0 while active: nothing it guards can run; set active: false"]
    if resource_type == TAG_LIMIT and props.get("limit") == 0:
        return [f"tag limit '{name}' is 0: every task run with the tag waits forever; remove the limit"]
    stopped = props.get("concurrencyLimit") == 0 and not props.get("paused")
    if resource_type in (WORK_POOL, WORK_QUEUE) and stopped:
        kind = "work pool" if resource_type == WORK_POOL else "work queue"
        return [f"{kind} '{name}' has concurrencyLimit 0 while not paused: set paused: true to stop it"]
    return []


def workers_target_pools_of_their_stack(resources: Iterable[Resource]) -> list[str]:
    resources = list(resources)
    pools = {props.get("name") for kind, props in resources if kind == WORK_POOL}
    violations = []
    for kind, props in resources:
        command = worker_command(props) if kind == CONTAINER else None
        pool = flag(command, "--pool") if command else None
        if command is not None and pool not in pools:
            violations.append(
                f"worker '{flag(command, '--name')}' polls pool '{pool}', which this stack does not define "
                f"(pools: {', '.join(sorted(p for p in pools if p)) or 'none'})"
            )
    return violations


def worker_capacity_reaches_pool_limit(resources: Iterable[Resource]) -> list[str]:
    """A pool admitting more concurrent flow runs than its workers can start leaves runs waiting silently.
    A pool with no worker in its stack is served by workers run elsewhere, which this stack cannot count."""
    resources = list(resources)
    capacity: dict[str, int] = defaultdict(int)
    for kind, props in resources:
        command = worker_command(props) if kind == CONTAINER else None
        if command:
            capacity[flag(command, "--pool") or ""] += int(flag(command, "--limit") or 0)
    violations = []
    for kind, props in resources:
        limit = props.get("concurrencyLimit")
        served_here = props.get("name") in capacity
        if kind == WORK_POOL and served_here and limit is not None and capacity[props["name"]] < limit:
            violations.append(
                f"pool '{props['name']}' admits {int(limit)} concurrent flow runs but its workers start at "
                f"most {capacity[props['name']]} (replicas x limit); add replicas or raise the worker limit"
            )
    return violations

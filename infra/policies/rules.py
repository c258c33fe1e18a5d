"""The platform's policy rules as plain functions over resource types and properties.

They import nothing but the standard library and PyYAML, so that the policy pack (which runs in its own
virtualenv, with the older protobuf/grpcio that pulumi-policy pins) and the project's tests (in the main
virtualenv) share them unchanged. Each rule returns the violations it finds, as messages.
"""

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

CONTAINER = "docker:index/container:Container"
WORK_POOL = "pulumi-python:dynamic/prefect:WorkPool"
WORK_QUEUE = "pulumi-python:dynamic/prefect:WorkQueue"
GLOBAL_LIMIT = "pulumi-python:dynamic/prefect:GlobalConcurrencyLimit"
TAG_LIMIT = "pulumi-python:dynamic/prefect:TaskRunConcurrencyLimit"

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACK_ORDER = ("dev", "staging", "prod")
"""Each stack's limits must be at least those of the stack before it."""

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
                f"worker '{props.get('name')}' polls pool '{pool}', which this stack does not define "
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


def stack_limits(platform: Mapping[str, Any]) -> dict[str, float]:
    """The numbers that must not shrink from dev to staging to prod, keyed by role (no stack prefix), from a
    platform as written: what is malformed there is its stack's validation's to report, and left out here."""
    limits: dict[str, float] = {}
    capacity: dict[str, float] = defaultdict(float)
    for worker in entries(platform, "workers"):
        replicas, limit = worker.get("replicas", 1), worker.get("limit")
        if is_number(replicas) and is_number(limit):
            capacity[str(worker.get("pool"))] += replicas * limit
    for pool in entries(platform, "pools"):
        name = str(pool.get("name"))
        if is_number(pool.get("concurrencyLimit")):
            limits[f"pool {name} concurrencyLimit"] = pool["concurrencyLimit"]
        if name in capacity:  # Pools served by workers of other systems have no capacity here.
            limits[f"pool {name} worker capacity"] = capacity[name]
    for queue in entries(platform, "queues"):
        if is_number(queue.get("concurrencyLimit")):
            limits[f"queue {queue.get('pool')}/{queue.get('name')} concurrencyLimit"] = queue[
                "concurrencyLimit"
            ]
    for limit in entries(platform, "concurrencyLimits"):
        if is_number(limit.get("limit")):
            limits[f"concurrency limit {limit.get('name')}"] = limit["limit"]
    variables = platform.get("variables")
    for key, value in (variables if isinstance(variables, Mapping) else {}).items():
        if str(key).endswith("_max_concurrent_tasks") and is_number(value):
            limits[f"variable {key}"] = value
    return limits


def entries(platform: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The mappings listed under `key`; anything else written there is skipped."""
    listed = platform.get(key)
    return [entry for entry in listed if isinstance(entry, Mapping)] if isinstance(listed, list) else []


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def environments_grow_toward_production(platforms: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """prod's limits not below staging's, staging's not below dev's, for the same roles."""
    violations = []
    present = [stack for stack in STACK_ORDER if stack in platforms]
    for lower, higher in itertools.pairwise(present):
        lower_limits, higher_limits = stack_limits(platforms[lower]), stack_limits(platforms[higher])
        for role in sorted(lower_limits.keys() & higher_limits.keys()):
            if higher_limits[role] < lower_limits[role]:
                violations.append(
                    f"{role}: {higher} has {higher_limits[role]:g}, below {lower}'s {lower_limits[role]:g}"
                )
    return violations


def read_stack_platforms(root: Path = PROJECT_ROOT) -> dict[str, Mapping[str, Any]]:
    """`rpa-platform:platform` of every shipped stack file, as written (plain YAML: no Pulumi, no secrets
    needed). A file that cannot be read as a platform is left out: its own validation reports it."""
    platforms = {}
    for stack in STACK_ORDER:
        path = root / f"Pulumi.{stack}.yaml"
        try:
            document = yaml.safe_load(path.read_text()) if path.exists() else None
        except (OSError, yaml.YAMLError):
            continue
        config = document.get("config") if isinstance(document, Mapping) else None
        platform = config.get("rpa-platform:platform") if isinstance(config, Mapping) else None
        if isinstance(platform, str):  # Written as JSON, which Pulumi accepts as well.
            try:
                platform = json.loads(platform)
            except ValueError:
                continue
        if isinstance(platform, Mapping):
            platforms[stack] = platform
    return platforms

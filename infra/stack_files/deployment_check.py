"""prefect.yaml held to the stack files: the pools and queues its deployments name exist in their stack, and
the deployments' concurrency fits their pool.

Prefect itself ignores unknown keys in prefect.yaml (a misspelt `concurrency_limit` silently deploys an
unlimited deployment) and only finds a missing pool while deploying; this finds both before anything is sent.
"""

from collections import defaultdict
from pathlib import Path
from typing import Any

# Prefect's own model of prefect.yaml (private module; prefect is pinned to the version it belongs to).
from prefect.cli.deploy._models import (
    ConcurrencyLimitSpec,
    DeploymentConfig,
    PrefectYamlModel,
    WorkPoolConfig,
)
from pydantic import BaseModel, ValidationError

from infra.stack_files.settings import DEFAULT_QUEUE, StackSettings
from infra.yaml_file import YamlFileError, load_yaml

COLLISION_STRATEGIES = ("ENQUEUE", "CANCEL_NEW")


def unknown_keys(value: Any, model: type[BaseModel], path: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    allowed = set(model.model_fields)
    listed = ", ".join(sorted(allowed))
    return [
        f"{path}.{key}: unknown key, which Prefect would silently ignore; allowed: {listed}"
        for key in value
        if key not in allowed
    ]


def deployment_label(deployment: DeploymentConfig) -> str:
    flow = (deployment.entrypoint or "?").rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return f"{flow}/{deployment.name}"


def deployment_problems(document: dict[str, Any], stacks: list[StackSettings], source: str) -> list[str]:
    raw_deployments = document.get("deployments") or []
    if not isinstance(raw_deployments, list):
        return [f"{source}: deployments must be a list of deployments"]
    shapeless = [index for index, raw in enumerate(raw_deployments) if not isinstance(raw, dict)]
    if shapeless:
        shape = "must be a mapping (name, entrypoint, work_pool, ...)"
        return [f"{source}: deployments[{index}]: {shape}" for index in shapeless]
    problems = []
    for index, raw in enumerate(raw_deployments):
        path = f"{source}: deployments[{index}]"
        problems += unknown_keys(raw, DeploymentConfig, path)
        problems += unknown_keys(raw.get("work_pool"), WorkPoolConfig, f"{path}.work_pool")
        problems += unknown_keys(
            raw.get("concurrency_limit"), ConcurrencyLimitSpec, f"{path}.concurrency_limit"
        )
    try:
        model = PrefectYamlModel.model_validate(document)
    except ValidationError as error:
        return [*problems, f"{source}: {error}"]

    pools = {stack.pool_name(pool.name): (stack, pool) for stack in stacks for pool in stack.platform.pools}
    admitted: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for index, deployment in enumerate(model.deployments):
        where = f"{source}: deployments[{index}] ({deployment_label(deployment)})"
        pool_name = deployment.work_pool.name if deployment.work_pool else None
        if pool_name not in pools:
            problems.append(
                f"{where}: work pool {pool_name!r} is not defined by any stack (pools: {', '.join(pools)})"
            )
            continue
        stack, pool = pools[pool_name]
        queue = deployment.work_pool.work_queue_name if deployment.work_pool else None
        queues = {q.name for q in stack.platform.queues if q.pool == pool.name} | {DEFAULT_QUEUE}
        if queue is not None and queue not in queues:
            problems.append(
                f"{where}: stack {stack.stack} has no queue {queue!r} in pool {pool_name} "
                f"(queues: {', '.join(sorted(queues))})"
            )
        limit = deployment.concurrency_limit
        spec = limit if isinstance(limit, ConcurrencyLimitSpec) else ConcurrencyLimitSpec(limit=limit)
        if spec.limit is None or spec.limit < 1:
            problems.append(
                f"{where}: concurrency_limit must be a number >= 1, so the pool's share is explicit"
            )
            continue
        if spec.collision_strategy is not None and spec.collision_strategy not in COLLISION_STRATEGIES:
            allowed = ", ".join(COLLISION_STRATEGIES)
            problems.append(f"{where}: collision_strategy {spec.collision_strategy!r}; allowed: {allowed}")
        admitted[pool_name].append((deployment_label(deployment), spec.limit))

    for pool_name, shares in admitted.items():
        stack, pool = pools[pool_name]
        total = sum(limit for _, limit in shares)
        if pool.concurrency_limit is not None and total > pool.concurrency_limit:
            parts = " + ".join(f"{label} {limit}" for label, limit in shares)
            problems.append(
                f"{source}: stack {stack.stack}: deployments into {pool_name} may run {total} flow runs "
                f"at once ({parts}), above the pool's concurrencyLimit {pool.concurrency_limit} in "
                f"{stack.source}"
            )
    return problems


def check_prefect_yaml(path: Path, stacks: list[StackSettings]) -> list[str]:
    try:
        document = load_yaml(path) or {}
    except YamlFileError as error:
        return [f"{path.name}: {error}"]
    if not isinstance(document, dict):
        return [f"{path.name}: must be a mapping with a `deployments` list"]
    return deployment_problems(document, stacks, path.name)

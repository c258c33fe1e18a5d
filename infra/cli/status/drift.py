"""What differs between the stack file and its server: objects the file declares that the server lacks, and
numbers or values that were changed behind Pulumi's back. `make up STACK=<stack>` (which refreshes first)
puts every one of them back, so that is the command each finding names.

Values are compared as parsed JSON, never as text: key order and 15 against 15.0 are no drift; true against
1 is (they would read differently in a flow)."""

import json
from typing import Any

from infra.cli.status.model import Finding, StackStatus
from infra.prefect_resources.inputs import whole_numbers
from infra.stack_files.settings import StackSettings


def drift_findings(settings: StackSettings, status: StackStatus) -> list[Finding]:
    command = f"make up STACK={settings.stack}"
    return [
        Finding(kind="drift", object=name, message=message, command=command)
        for name, message in pool_drift(settings, status)
        + queue_drift(settings, status)
        + variable_drift(status, settings.source)
        + limit_drift(settings, status)
    ]


def pool_drift(settings: StackSettings, status: StackStatus) -> list[tuple[str, str]]:
    held = {pool.name: pool for pool in status.pools}
    drift = []
    for pool in settings.platform.pools:
        name = settings.pool_name(pool.name)
        declared = {"type": pool.type, "concurrency_limit": pool.concurrency_limit, "paused": pool.paused}
        drift += object_drift(f"work pool {name}", declared, held.get(name), settings.source)
    return drift


def queue_drift(settings: StackSettings, status: StackStatus) -> list[tuple[str, str]]:
    held = {(queue.pool, queue.name): queue for queue in status.queues}
    drift = []
    for queue in settings.platform.queues:
        pool = settings.pool_name(queue.pool)
        declared: dict[str, Any] = {"concurrency_limit": queue.concurrency_limit, "paused": queue.paused}
        if queue.priority is not None:  # Otherwise Prefect picks it.
            declared["priority"] = queue.priority
        drift += object_drift(
            f"work queue {pool}/{queue.name}", declared, held.get((pool, queue.name)), settings.source
        )
    return drift


def limit_drift(settings: StackSettings, status: StackStatus) -> list[tuple[str, str]]:
    held = {limit.name: limit for limit in status.limits}
    drift = []
    for limit in settings.platform.concurrency_limits:
        name = settings.limit_name(limit.name)
        declared = {
            "limit": limit.limit,
            "active": limit.active,
            "slot_decay_per_second": limit.slot_decay_per_second,
        }
        drift += object_drift(f"limit {name}", declared, held.get(name), settings.source)
    return drift


def object_drift(name: str, declared: dict[str, Any], held: Any | None, source: str) -> list[tuple[str, str]]:
    if held is None:
        return [(name, f"declared in {source}, missing on the server")]
    changed = [
        f"{field} is {getattr(held, field)!r} on the server, {value!r} in {source}"
        for field, value in declared.items()
        if value != getattr(held, field)
    ]
    return [(name, "; ".join(changed))] if changed else []


def variable_drift(status: StackStatus, source: str) -> list[tuple[str, str]]:
    drift = []
    for variable in status.variables:
        name = f"variable {variable.name}"
        if not variable.present:
            drift.append((name, f"declared in {source}, missing on the server"))
        elif canonical(variable.held) != canonical(variable.declared):
            drift.append((name, f"is {variable.held!r} on the server, {variable.declared!r} in {source}"))
    return drift


def canonical(value: Any) -> str:
    return json.dumps(whole_numbers(value), sort_keys=True)

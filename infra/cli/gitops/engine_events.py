"""What one `pulumi preview` or `pulumi up` did, read from the engine's JSON events (`--json`, streamed).

The events, not the preview's JSON digest: the digest leaves policy violations out (it only says "preview
failed"), while the event stream carries each one (`policyEvent`: policy name, resource, message) and the same
per-resource steps (`resourcePreEvent`: op, old and new state) for a preview and an update alike.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.cli.gitops.server_names import DYNAMIC, is_server_object, kind, server_name
from infra.field_changes import FieldChange, field_changes

UNCHANGED = ("same", "refresh", "read")
# A replacement shows as three steps of one resource; the summary names it once, as `replace`.
REPLACEMENT_STEPS = ("create-replacement", "delete-replaced", "replace")


@dataclass(frozen=True)
class Change:
    op: str
    kind: str
    name: str
    fields: list[FieldChange]

    def __str__(self) -> str:
        what = f"{self.op} {self.kind} `{self.name}`"
        return f"{what}: {', '.join(map(str, self.fields))}" if self.fields else what


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    message: str


@dataclass
class EngineRun:
    counts: dict[str, int] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    result: str = "unknown"

    @property
    def ok(self) -> bool:
        return self.result == "succeeded" and not self.violations and not self.errors

    def first_problem(self) -> str:
        if self.violations:
            return f"policy violation {self.violations[0].policy}: {self.violations[0].message}"
        return self.errors[0] if self.errors else f"result {self.result}"


def parse_events(lines: Iterable[str]) -> EngineRun:
    run = EngineRun()
    changes: dict[str, Change] = {}
    found: list[tuple[str, str, str]] = []  # (policy, urn, message): named once every step is known
    for line in lines:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if step := event.get("resourcePreEvent"):
            change = resource_change(step["metadata"])
            previous = changes.get(step["metadata"]["urn"])
            if change and not (previous and previous.op == "replace"):
                changes[step["metadata"]["urn"]] = change
        elif policy := event.get("policyEvent"):
            urn = policy.get("resourceUrn") or ""
            found.append((policy["policyName"], urn, last_line(policy["message"])))
        elif (diagnostic := event.get("diagnosticEvent")) and diagnostic.get("severity") == "error":
            run.errors.append(diagnostic["message"].strip())
        elif summary := event.get("summaryEvent"):
            run.counts = {op: n for op, n in summary.get("resourceChanges", {}).items() if n}
            run.result = summary.get("result") or "unknown"
    run.changes = list(changes.values())
    run.violations = [Violation(policy, resource_label(urn, changes), text) for policy, urn, text in found]
    return run


def resource_label(urn: str, changes: Mapping[str, Change]) -> str:
    if named := changes.get(urn):
        return f"{named.kind} `{named.name}`"
    return f"`{urn.rsplit('::', 1)[-1]}`" if urn else "the stack"


def resource_change(step: Mapping[str, Any]) -> Change | None:
    op, resource_type = step["op"], step["type"]
    if op in UNCHANGED or not is_server_object(resource_type):
        return None
    old, new = step.get("old") or {}, step.get("new") or {}
    name = server_name(resource_type, new.get("inputs") or old.get("inputs") or {}, step["urn"])
    op = "replace" if op in REPLACEMENT_STEPS else op
    if op not in ("update", "replace"):
        return Change(op, kind(resource_type), name, [])
    return Change(op, kind(resource_type), name, field_changes(old_values(resource_type, old), new["inputs"]))


def old_values(resource_type: str, old: Mapping[str, Any]) -> dict[str, Any]:
    """A Prefect object's outputs are what its provider read back from the server at refresh (drift
    included); its inputs only what was last applied. pulumi-docker's outputs are normalised by Docker, so
    for everything else the last inputs are the fair comparison."""
    inputs = dict(old.get("inputs") or {})
    if resource_type.startswith(DYNAMIC):
        outputs = old.get("outputs") or {}
        return {key: outputs.get(key, value) for key, value in inputs.items()}
    return inputs


def last_line(message: str) -> str:
    """A policy event's message is the policy's description, then the violation: keep the violation."""
    return message.strip().splitlines()[-1] if message.strip() else ""

"""What changes in one object, field by field, old -> new: nested settings by their dotted path
(`jobDefaults.image`), so a reviewer sees the one number that moved, not two JSON documents."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ABSENT = object()
VALUE_WIDTH = 60


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path} {show(self.old)} → {show(self.new)}"


def show(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[FieldChange]:
    """Every leaf that differs; keys starting with `__` are Pulumi's own (the pickled provider)."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("__"):
            continue
        before, after = old.get(key, ABSENT), new.get(key, ABSENT)
        path = f"{prefix}{key}"
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changes += field_changes(before, after, f"{path}.")
        elif before != after:
            changes.append(FieldChange(path, before, after))
    return changes

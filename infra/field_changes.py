"""What differs in one object, field by field, old -> new: nested settings by their dotted path
(`jobDefaults.image`), so a reader sees the one number that moved, not two JSON documents. Pull-request
summaries show it for a change Pulumi makes, `make status` for drift made behind Pulumi's back.

Values are compared as JSON: true against 1 differs (a flow would read them differently), 15 against 15.0
does not (Pulumi carries every number as a float), nor does a null against an absent key (Pulumi drops the
nulls inside a map)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.wire_numbers import whole_numbers

VALUE_WIDTH = 60


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path} {show(self.old)} → {show(self.new)}"


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    text = as_json(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def as_json(value: Any) -> str:
    return json.dumps(whole_numbers(value), sort_keys=True, separators=(",", ":"))


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[FieldChange]:
    """Every leaf that differs; keys starting with `__` are Pulumi's own (the pickled provider)."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("__"):
            continue
        before, after = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changes += field_changes(before, after, f"{path}.")
        elif as_json(before) != as_json(after):
            changes.append(FieldChange(path, before, after))
    return changes

"""What the Docker engine refuses, checked before anything is sent to it: container names and memory sizes."""

import re
from typing import Final

CONTAINER_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
"""Docker's own rule for container names (its error: `Invalid container name (...), only
[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)."""

MEMORY: Final = re.compile(r"(?P<number>[1-9][0-9]*)(?P<unit>[bkmg]?)")
"""A memory size as Docker writes it: 512m, 2g."""
UNIT_BYTES: Final = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
MIN_MEMORY_BYTES: Final = 6 * 2**20
"""Docker's smallest memory limit ("Minimum memory limit allowed is 6MB")."""
MAX_MEMORY_BYTES: Final = 2**63 - 1
"""Docker holds memory limits in bytes as a signed 64-bit integer."""


def container_name_problem(name: str) -> str | None:
    if CONTAINER_NAME.fullmatch(name):
        return None
    return f"container name '{name}' is refused by Docker (only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed)"


def memory_bytes(size: str) -> int | None:
    """'2g' -> 2147483648; None when `size` is not written as Docker writes memory sizes."""
    match = MEMORY.fullmatch(size)
    return int(match["number"]) * UNIT_BYTES[match["unit"]] if match else None


def memory_problem(size: object) -> str | None:
    """Why Docker would refuse `size` as a memory limit, or None."""
    count = memory_bytes(size) if isinstance(size, str) else None
    if count is None:
        return "must be a size like 512m or 2g (a whole number, then b, k, m or g)"
    if not MIN_MEMORY_BYTES <= count <= MAX_MEMORY_BYTES:
        return f"must be from 6m (Docker's minimum) to {MAX_MEMORY_BYTES} bytes"
    return None

"""Numbers as Pulumi carries them: every one a 64-bit float, so the 15 a stack file says arrives as 15.0."""

from typing import Any


def whole_numbers(value: Any) -> Any:
    """Turn 15.0 back into 15, recursively, so that the server stores what the stack file says."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value

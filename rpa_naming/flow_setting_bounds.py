"""What values the shipped flows accept in their Variables: one rule, applied when a stack file is validated
and again when a flow run reads the Variable on the server (where anyone may have changed it since).

Values are JSON as Prefect stores them and are taken as they are, never converted: `"5"`, `true`, or `2.0`
for a whole number, are refused rather than read as 5, 1 and 2. Every number is bounded: an unbounded timeout
overflows the clocks and timers it is added to, an unbounded width starts a thread per task."""

import math
from dataclasses import dataclass
from typing import Final

from rpa_naming import MAX_CONCURRENT_TASKS, TIMEOUT


@dataclass(frozen=True)
class NumberBounds:
    meaning: str
    whole: bool
    minimum: float
    maximum: float

    def problem(self, value: object) -> str | None:
        """Why `value` is refused, or None when it is accepted."""
        kind = "an integer" if self.whole else "a number"
        allowed = f"{self.meaning}: {kind} from {self.minimum:g} to {self.maximum:g} (got {value!r})"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return allowed
        if self.whole and not isinstance(value, int):
            return allowed
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            return allowed
        return None


# The floor of an adaptive limit (at most the limit itself, which the stack's validation checks too).
ADAPTIVE_FLOOR_BOUNDS: Final = NumberBounds(
    "an adaptive limit's floor", whole=True, minimum=1, maximum=10_000
)

FLOW_SETTING_BOUNDS: Final = {
    MAX_CONCURRENT_TASKS: NumberBounds("the task runner's width", whole=True, minimum=1, maximum=256),
    TIMEOUT: NumberBounds("seconds one external call may take", whole=False, minimum=1, maximum=86_400),
}

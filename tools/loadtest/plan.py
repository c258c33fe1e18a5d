"""What a load test is asked to do, checked before anything starts or changes on the server."""

import re
from dataclasses import dataclass
from pathlib import Path

from rpa_naming import MAX_CONCURRENT_TASKS
from rpa_naming.flow_setting_bounds import FLOW_SETTING_BOUNDS

FLOW = "rpa3"
# A stack's name prefixes Prefect objects and names files: keep it to what both accept.
_STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_WIDTH = FLOW_SETTING_BOUNDS[MAX_CONCURRENT_TASKS]


class PlanError(ValueError):
    """Bad input: reported as one line, before anything changes."""


@dataclass(frozen=True)
class StepUpRange:
    """`START:STOP:STEP`: the values the width Variable and the erp-api limit take, one per step."""

    start: int
    stop: int
    step: int

    @classmethod
    def parse(cls, text: str) -> "StepUpRange":
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(part.strip().isdigit() for part in parts):
            raise PlanError(f"--step-up {text!r}: expected START:STOP[:STEP] in whole numbers, e.g. 2:16:2")
        start, stop, step = (int(part) for part in (*parts, "1")[:3])
        if step < 1:
            raise PlanError(f"--step-up {text!r}: STEP must be at least 1")
        if not _WIDTH.minimum <= start < stop <= _WIDTH.maximum:
            raise PlanError(
                f"--step-up {text!r}: need {_WIDTH.minimum:g} <= START < STOP <= {_WIDTH.maximum:g} "
                "(the width Variable's bounds; a limit of 0 would run nothing)"
            )
        return cls(start, stop, step)

    def values(self) -> list[int]:
        return list(range(self.start, self.stop + 1, self.step))


@dataclass(frozen=True)
class LoadPlan:
    stack: str
    flow_runs: int
    items: int
    erp_latency_seconds: float
    out_dir: Path

    def __post_init__(self) -> None:
        if not _STACK_NAME.match(self.stack):
            raise PlanError(f"unknown stack {self.stack!r}: a stack is named like dev, staging, prod")
        if self.flow_runs < 1:
            raise PlanError(f"--flow-runs {self.flow_runs}: at least 1 flow run")
        if self.items < 1:
            raise PlanError(f"--items {self.items}: at least 1 item per flow run")
        if not 0 <= self.erp_latency_seconds <= 60:
            raise PlanError(f"--erp-latency {self.erp_latency_seconds:g}: seconds from 0 to 60")

    @property
    def planned_items(self) -> int:
        return self.flow_runs * self.items

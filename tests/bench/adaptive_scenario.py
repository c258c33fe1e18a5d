"""What the adaptive-limit benchmark compares: the ERP's capacity over time (high, dropping to low, back to high)
and the limiters facing it, each on a stack (and global limit) of its own."""

from dataclasses import dataclass
from enum import StrEnum

from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.schedule import BehaviourSchedule, BehaviourStep

ERP = "erp-api"
RETRY_AFTER_SECONDS = 1
LIMITER_KINDS = ("fixed-high", "fixed-low", "adaptive")


class CapacityMode(StrEnum):
    REFUSE = "429"  # beyond its capacity the ERP answers 429 + Retry-After (max_concurrency)
    QUEUE = "queue"  # beyond its capacity requests wait in line: it slows down (capacity)


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float  # from the schedule's start
    end_s: float
    capacity: int

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Limiter:
    """One compared variant: the stack's global limit, and the adaptive floor when the run's limit adapts."""

    name: str
    global_limit: int
    adaptive_floor: int | None = None

    @property
    def stack(self) -> str:
        return f"adaptive-bench-{self.name}"


@dataclass(frozen=True)
class Scenario:
    high: int
    low: int
    phase_seconds: tuple[float, float, float]  # high, low, high again
    latency_seconds: float
    mode: CapacityMode

    @property
    def phases(self) -> list[Phase]:
        first, second, third = self.phase_seconds
        return [
            Phase("before", 0.0, first, self.high),
            Phase("dropped", first, first + second, self.low),
            Phase("recovered", first + second, first + second + third, self.high),
        ]

    @property
    def total_seconds(self) -> float:
        return sum(self.phase_seconds)

    def limiters(self, adaptive_floor: int) -> dict[str, Limiter]:
        """By kind (LIMITER_KINDS): fixed at the high capacity, fixed at the low one, adaptive under the high."""
        return {
            "fixed-high": Limiter(f"fixed-{self.high}", self.high),
            "fixed-low": Limiter(f"fixed-{self.low}", self.low),
            "adaptive": Limiter("adaptive", self.high, adaptive_floor),
        }

    def behaviour(self, capacity: int) -> ErpBehaviour:
        if self.mode is CapacityMode.REFUSE:
            return ErpBehaviour(
                latency_seconds=self.latency_seconds,
                max_concurrency=capacity,
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        return ErpBehaviour(latency_seconds=self.latency_seconds, capacity=capacity)

    def schedule(self, start_at: float) -> BehaviourSchedule:
        steps = [
            BehaviourStep(after_seconds=p.start_s, behaviour=self.behaviour(p.capacity)) for p in self.phases
        ]
        return BehaviourSchedule(start_at=start_at, steps=steps)

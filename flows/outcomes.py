"""Per-item outcomes of a mapped task: RPA batches keep what succeeded and report what did not."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prefect.futures import PrefectFuture

T = TypeVar("T")


class BatchIncompleteError(RuntimeError):
    """Raised after the successful items were saved, so the flow run ends Failed and names what failed."""


@dataclass
class Outcomes(Generic[T]):
    succeeded: list[T] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, futures: Iterable[PrefectFuture[T]]) -> "Outcomes[T]":
        outcomes: Outcomes[T] = cls()
        for future in futures:
            result = future.result(raise_on_failure=False)
            if isinstance(result, BaseException):
                outcomes.failures.append(f"{type(result).__name__}: {result}")
            else:
                outcomes.succeeded.append(result)
        return outcomes

    def raise_if_incomplete(self, what: str) -> None:
        if self.failures:
            total = len(self.failures) + len(self.succeeded)
            raise BatchIncompleteError(
                f"{len(self.failures)} of {total} {what} failed; first: {self.failures[0]}"
            )

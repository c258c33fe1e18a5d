"""Per-item outcomes of a mapped task: RPA batches keep what succeeded and report what did not."""

from collections.abc import Iterable, Sized
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from prefect.futures import PrefectFuture

from flows.runtime import ItemOutcome

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

    @classmethod
    def of_chunks(
        cls, futures: Iterable[PrefectFuture[list[ItemOutcome[T]]]], chunks: Iterable[Sized]
    ) -> "Outcomes[T]":
        """Per item, from tasks that each took a chunk of items (`chunks`, in the futures' order): a task that
        failed as a whole counts every item of its chunk as failed."""
        outcomes: Outcomes[T] = cls()
        for future, chunk in zip(futures, chunks, strict=True):
            result: object = future.result(raise_on_failure=False)  # the task's exception, if it failed
            if isinstance(result, BaseException):
                failure = f"{type(result).__name__}: {result}"
                outcomes.failures += [f"(its chunk failed) {failure}"] * len(chunk)
                continue
            for item in cast(list[ItemOutcome[T]], result):
                if item.ok:
                    outcomes.succeeded.append(item.result)  # type: ignore[arg-type]  # ok: it has one
                else:
                    outcomes.failures.append(f"{item.item}: {item.error}")
        return outcomes

    def raise_if_incomplete(self, what: str) -> None:
        if self.failures:
            total = len(self.failures) + len(self.succeeded)
            raise BatchIncompleteError(
                f"{len(self.failures)} of {total} {what} failed; first: {self.failures[0]}"
            )

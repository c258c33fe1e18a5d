"""A flow whose task-runner width is this run's, not the one it was deployed with."""

from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime.run_settings import RunSettings

P = ParamSpec("P")
R = TypeVar("R")


def sized(flow: Flow[P, R], settings: RunSettings) -> Flow[P, R]:
    """The task runner is entered before a flow's body runs, so a deployed flow cannot resize its own: its
    entrypoint reads the settings and calls the body as a subflow sized here."""
    task_runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=settings.max_concurrent_tasks)
    # `with_options` takes a `TaskRunner[PrefectFuture[Any]]`, and `TaskRunner` is invariant in its future
    # type: no concrete runner's type fits (Prefect casts its own default ThreadPoolTaskRunner to it likewise).
    return flow.with_options(task_runner=task_runner)  # type: ignore[arg-type]

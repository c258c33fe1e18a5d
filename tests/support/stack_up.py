"""`pulumi up` of a stack's Prefect objects without the CLI: every object the program declares for the
settings, driven through the real dynamic-provider process in the program's dependency order."""

from typing import Any

from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitProvider
from infra.prefect_resources.variable import VariableProvider
from infra.prefect_resources.work_pool import WorkPoolProvider
from infra.prefect_resources.work_queue import WorkQueueProvider
from infra.settings import StackSettings
from tests.support.provider_protocol import DynamicProviderProcess, EngineStack


def declared_objects(settings: StackSettings) -> list[tuple[str, str, PrefectProvider, dict[str, Any]]]:
    """(resource type, resource name, provider, inputs) for every Prefect object of the stack, pools first."""
    platform = settings.platform
    return [
        *(
            ("WorkPool", f"pool-{p.name}", WorkPoolProvider(), settings.work_pool_inputs(p).to_props())
            for p in platform.pools
        ),
        *(
            (
                "WorkQueue",
                f"queue-{q.pool}-{q.name}",
                WorkQueueProvider(),
                settings.work_queue_inputs(q).to_props(),
            )
            for q in platform.queues
        ),
        *(
            ("Variable", f"variable-{k}", VariableProvider(), settings.variable_inputs(k, v).to_props())
            for k, v in platform.variables.items()
        ),
        *(
            (
                "GlobalConcurrencyLimit",
                f"limit-{c.name}",
                GlobalConcurrencyLimitProvider(),
                settings.concurrency_limit_inputs(c).to_props(),
            )
            for c in platform.concurrency_limits
        ),
        *(
            (
                "TaskRunConcurrencyLimit",
                f"tag-limit-{t}",
                TaskRunConcurrencyLimitProvider(),
                settings.tag_limit_inputs(t, n).to_props(),
            )
            for t, n in platform.tag_limits.items()
        ),
    ]


class PrefectObjects:
    """The stack's Prefect objects under one simulated engine."""

    def __init__(self, process: DynamicProviderProcess, settings: StackSettings) -> None:
        self.declared = declared_objects(settings)
        self.stacks = [
            EngineStack(process, kind, name, provider) for kind, name, provider, _ in self.declared
        ]

    def up(self) -> list[str]:
        return [stack.up(inputs) for stack, (_, _, _, inputs) in zip(self.stacks, self.declared, strict=True)]

    def destroy(self) -> None:
        for stack in reversed(self.stacks):
            stack.destroy()

"""RpaPlatform: one stack of the RPA platform, wired.

(Not `platform.py`: Pulumi runs `infra/` with that directory first on sys.path, where a `platform` module
would shadow the standard library's.)
"""

from typing import Any

import pulumi

from infra.prefect_objects import (
    concurrency_limit_inputs,
    queue_priorities_inputs,
    tag_limit_inputs,
    variable_inputs,
    work_pool_inputs,
    work_queue_inputs,
)
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimit
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimit
from infra.prefect_resources.variable import Variable
from infra.prefect_resources.work_pool import WorkPool
from infra.prefect_resources.work_queue import WorkQueue
from infra.prefect_resources.work_queue_priorities import WorkQueuePriorities
from infra.prefect_server import PrefectServer
from infra.server_spec import server_spec
from infra.settings import StackSettings
from infra.worker_spec import worker_container_specs
from infra.workers import Workers


class RpaPlatform(pulumi.ComponentResource):
    """Work pools and their queues, Variables, concurrency limits and the worker containers of one stack, and
    its own Prefect server when it has one."""

    def __init__(
        self, name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("rpa-platform:index:RpaPlatform", name, None, opts)
        platform = settings.platform
        own_server = server_spec(settings)
        self.server = (
            PrefectServer("prefect-server", own_server, pulumi.ResourceOptions(parent=self))
            if own_server
            else None
        )
        # Every Prefect object waits for the stack's own server (created once it reports healthy).
        on_api: list[pulumi.Resource] = [self.server.api] if self.server else []
        child = pulumi.ResourceOptions(parent=self, depends_on=on_api)

        self.pools = {
            pool.name: WorkPool(f"pool-{pool.name}", work_pool_inputs(settings, pool), child)
            for pool in platform.pools
        }
        self.queues = [
            WorkQueue(
                f"queue-{queue.pool}-{queue.name}",
                work_queue_inputs(settings, queue),
                pulumi.ResourceOptions(parent=self, depends_on=[*on_api, self.pools[queue.pool]]),
                work_pool_name=self.pools[queue.pool].name,
            )
            for queue in platform.queues
        ]
        # A pool's priorities are set together once its queues exist (see WorkQueuePriorities).
        self.queue_priorities = [
            WorkQueuePriorities(
                f"queue-priorities-{pool.name}",
                inputs,
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[
                        *on_api,
                        *(
                            queue
                            for queue, settings_queue in zip(self.queues, platform.queues, strict=True)
                            if settings_queue.pool == pool.name
                        ),
                    ],
                ),
                work_pool_name=self.pools[pool.name].name,
            )
            for pool in platform.pools
            if (inputs := queue_priorities_inputs(settings, pool))
        ]
        self.variables = [
            Variable(f"variable-{key}", variable_inputs(settings, key, value), child)
            for key, value in settings.server_variables.items()
        ]
        self.concurrency_limits = [
            GlobalConcurrencyLimit(f"limit-{limit.name}", concurrency_limit_inputs(settings, limit), child)
            for limit in platform.concurrency_limits
        ]
        self.tag_limits = [
            TaskRunConcurrencyLimit(f"tag-limit-{tag}", tag_limit_inputs(settings, tag, limit), child)
            for tag, limit in platform.tag_limits.items()
        ]
        # Workers start once their pools and queues exist, so their first poll finds them.
        self.workers = Workers(
            "workers",
            worker_container_specs(settings),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[*on_api, *self.pools.values(), *self.queues, *self.queue_priorities],
            ),
        )
        self.outputs: dict[str, Any] = {
            "prefectApiUrl": settings.config.prefect_api_url,
            "environment": settings.environment,
            "workPools": {role: pool.name for role, pool in self.pools.items()},
            "workQueues": [
                pulumi.Output.concat(queue.work_pool_name, "/", queue.name) for queue in self.queues
            ],
            "variables": [variable.name for variable in self.variables],
            "concurrencyLimits": [limit.name for limit in self.concurrency_limits],
            "tagLimits": [limit.tag for limit in self.tag_limits],
            "workerContainers": [container.name for container in self.workers.containers],
        }
        if self.server:
            self.outputs["serverContainers"] = [self.server.database.name, self.server.api.name]
        self.register_outputs(self.outputs)

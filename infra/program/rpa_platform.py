"""RpaPlatform: one stack of the RPA platform, wired.

(Not `platform.py`: Pulumi runs `infra/` with that directory first on sys.path, where a `platform` module
would shadow the standard library's.)
"""

from typing import Any

import pulumi

from infra.prefect_resources.resource import PrefectResource
from infra.program.prefect_server import PrefectServer
from infra.program.server_spec import server_spec
from infra.program.worker_spec import worker_container_specs
from infra.program.workers import Workers
from infra.stack_files.prefect_kinds import KINDS
from infra.stack_files.settings import StackSettings


class RpaPlatform(pulumi.ComponentResource):
    """Work pools and their queues, Variables, concurrency limits and the worker containers of one stack, and
    its own Prefect server when it has one."""

    def __init__(
        self, name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("rpa-platform:index:RpaPlatform", name, None, opts)
        own_server = server_spec(settings)
        self.server = (
            PrefectServer("prefect-server", own_server, pulumi.ResourceOptions(parent=self))
            if own_server
            else None
        )
        # Every Prefect object waits for the stack's own server (created once it reports healthy), and for
        # the stack's objects it needs (a queue for its pool).
        on_api: list[pulumi.Resource] = [self.server.api] if self.server else []
        self.prefect_objects: dict[str, PrefectResource[Any]] = {}
        for kind in KINDS:
            for declared in kind.objects(settings):
                after = [self.prefect_objects[name] for name in declared.after]
                options = pulumi.ResourceOptions(parent=self, depends_on=[*on_api, *after])
                self.prefect_objects[declared.resource_name] = kind.resource(
                    declared.resource_name, declared.inputs, options
                )
        # Workers start once the stack's Prefect objects exist, so their first poll finds their pools and
        # queues, and their first flow runs the Variables and limits.
        self.workers = Workers(
            "workers",
            worker_container_specs(settings),
            pulumi.ResourceOptions(parent=self, depends_on=[*on_api, *self.prefect_objects.values()]),
        )
        self.outputs: dict[str, Any] = {
            "prefectApiUrl": settings.config.prefect_api_url,
            "environment": settings.environment,
            **{key: value(settings) for key, value in (kind.output for kind in KINDS if kind.output)},
            "workerContainers": [container.name for container in self.workers.containers],
        }
        if self.server:
            self.outputs["serverContainers"] = [self.server.database.name, self.server.api.name]
        self.register_outputs(self.outputs)

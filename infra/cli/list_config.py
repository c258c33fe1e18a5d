"""`make list-config`: what each stack puts on the Prefect server and Docker, by the names they will have.

`python -m infra.cli.list_config --json` prints the same as JSON, for tools (one object per stack);
`python -m infra.cli.list_config --api-url STACK` prints only the stack's Prefect API URL (for `make deploy`).
"""

import argparse
import json
import sys
from typing import Any

from infra.program.worker_spec import worker_container_specs
from infra.stack_files.settings import SettingsError, StackSettings
from infra.stack_files.stack_config import from_stack_file, stack_file, stack_files


def listing(settings: StackSettings) -> dict[str, Any]:
    """The stack's objects by their names on the server (what the text and the JSON both show)."""
    platform = settings.platform
    return {
        "stack": settings.stack,
        "environment": settings.environment,
        "source": settings.source,
        "prefectApiUrl": settings.config.prefect_api_url,
        "workPools": [
            {"name": settings.pool_name(p.name), "type": p.type, "concurrencyLimit": p.concurrency_limit}
            for p in platform.pools
        ],
        "workQueues": [
            {
                "pool": settings.pool_name(q.pool),
                "name": q.name,
                "priority": q.priority,
                "concurrencyLimit": q.concurrency_limit,
            }
            for q in platform.queues
        ],
        "workers": [
            {"name": s.name, "image": s.image, "dockerHost": s.docker_host, "arguments": s.command[3:]}
            for s in worker_container_specs(settings)
        ],
        "variables": {settings.variable_name(key): value for key, value in settings.server_variables.items()},
        "concurrencyLimits": [
            {
                "name": settings.limit_name(c.name),
                "limit": c.limit,
                "slotDecayPerSecond": c.slot_decay_per_second,
                "adaptiveFloor": c.adaptive.floor if c.adaptive else None,
            }
            for c in platform.concurrency_limits
        ],
        "tagLimits": {settings.tag(tag): slots for tag, slots in platform.tag_limits.items()},
    }


def as_text(stack: dict[str, Any]) -> str:
    lines = [f"{stack['stack']} ({stack['environment']}) -> {stack['prefectApiUrl']}"]
    for pool in stack["workPools"]:
        lines.append(f"  work pool     {pool['name']}: {pool['type']}, limit {pool['concurrencyLimit']}")
    for queue in stack["workQueues"]:
        lines.append(
            f"  work queue    {queue['pool']}/{queue['name']}: priority {queue['priority']}, "
            f"limit {queue['concurrencyLimit']}"
        )
    for worker in stack["workers"]:
        arguments = " ".join(worker["arguments"])
        lines.append(
            f"  worker        {worker['name']}: {worker['image']} on {worker['dockerHost']}, {arguments}"
        )
    for name, value in stack["variables"].items():
        lines.append(f"  variable      {name} = {value!r}")
    for limit in stack["concurrencyLimits"]:
        rate = f", {limit['slotDecayPerSecond']:g} slots/s" if limit["slotDecayPerSecond"] else ""
        adaptive = f", adaptive from {limit['adaptiveFloor']}" if limit["adaptiveFloor"] is not None else ""
        lines.append(f"  limit         {limit['name']}: {limit['limit']}{rate}{adaptive}")
    for tag, slots in stack["tagLimits"].items():
        lines.append(f"  tag limit     {tag}: {slots}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.list_config", description=__doc__)
    parser.add_argument("--api-url", metavar="STACK", help="print only this stack's Prefect API URL")
    parser.add_argument("--json", action="store_true", help="every stack as JSON: a list of objects")
    args = parser.parse_args(argv)
    try:
        if args.api_url:
            print(from_stack_file(stack_file(args.api_url)).config.prefect_api_url)
            return 0
        stacks = [listing(from_stack_file(path)) for path in stack_files()]
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(stacks, indent=2) if args.json else "\n".join(map(as_text, stacks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

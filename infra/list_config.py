"""`make list-config`: what each stack puts on the Prefect server and Docker, by the names they will have.

`python -m infra.list_config --api-url STACK` prints only the stack's Prefect API URL (for `make deploy`).
"""

import argparse
import sys
from pathlib import Path

from infra.settings import SettingsError
from infra.stack_config import from_stack_file, stack_file, stack_files
from infra.worker_spec import worker_container_specs


def describe(path: Path) -> None:
    settings = from_stack_file(path)
    platform = settings.platform
    print(f"{settings.stack} ({settings.environment}) -> {settings.config.prefect_api_url}")
    for pool in platform.pools:
        print(f"  work pool     {settings.pool_name(pool.name)}: {pool.type}, limit {pool.concurrency_limit}")
    for queue in platform.queues:
        print(
            f"  work queue    {settings.pool_name(queue.pool)}/{queue.name}: priority {queue.priority}, "
            f"limit {queue.concurrency_limit}"
        )
    for spec in worker_container_specs(settings):
        arguments = " ".join(spec.command[3:])
        print(f"  worker        {spec.name}: {spec.image} on {spec.docker_host}, {arguments}")
    for key, value in settings.server_variables.items():
        print(f"  variable      {settings.variable_name(key)} = {value!r}")
    for limit in platform.concurrency_limits:
        rate = f", {limit.slot_decay_per_second:g} slots/s" if limit.slot_decay_per_second else ""
        adaptive = f", adaptive from {limit.adaptive.floor}" if limit.adaptive else ""
        print(f"  limit         {settings.limit_name(limit.name)}: {limit.limit}{rate}{adaptive}")
    for tag, slots in platform.tag_limits.items():
        print(f"  tag limit     {settings.tag(tag)}: {slots}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.list_config", description=__doc__)
    parser.add_argument("--api-url", metavar="STACK", help="print only this stack's Prefect API URL")
    args = parser.parse_args()
    try:
        if args.api_url:
            print(from_stack_file(stack_file(args.api_url)).config.prefect_api_url)
            return 0
        for path in stack_files():
            describe(path)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

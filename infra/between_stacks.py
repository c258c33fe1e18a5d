"""Rules between the stack files, on their validated settings (`make check`; `make preview` and `make up` run
it first). They are the repository's rules, not one stack's: a policy, which sees the resources of one stack,
cannot judge them."""

import itertools
from collections import defaultdict
from typing import TypeGuard

from infra.settings import PlatformSettings, StackSettings
from infra.stack_config import STACKS


def between_stacks_problems(stacks: list[StackSettings]) -> list[str]:
    """The problems between `stacks` (those whose own file is valid), as `make check` prints them."""
    return [f"environments: {violation}" for violation in limits_shrinking_toward_production(stacks)]


def limits_shrinking_toward_production(stacks: list[StackSettings]) -> list[str]:
    """prod's limits not below staging's, staging's not below dev's, for the same roles (stacks that are not
    shipped have no place in that order, and are left out)."""
    by_name = {stack.stack: stack for stack in stacks}
    present = [by_name[name] for name in STACKS if name in by_name]
    violations = []
    for lower, higher in itertools.pairwise(present):
        lower_limits, higher_limits = stack_limits(lower.platform), stack_limits(higher.platform)
        for role in sorted(lower_limits.keys() & higher_limits.keys()):
            if higher_limits[role] < lower_limits[role]:
                violations.append(
                    f"{role}: {higher.stack} has {higher_limits[role]:g}, below {lower.stack}'s "
                    f"{lower_limits[role]:g}"
                )
    return violations


def stack_limits(platform: PlatformSettings) -> dict[str, float]:
    """The numbers that must not shrink from dev to staging to prod, keyed by role (no stack prefix)."""
    limits: dict[str, float] = {}
    capacity: dict[str, int] = defaultdict(int)
    for worker in platform.workers:
        capacity[worker.pool] += worker.replicas * worker.limit
    for pool in platform.pools:
        if pool.concurrency_limit is not None:
            limits[f"pool {pool.name} concurrencyLimit"] = pool.concurrency_limit
        if pool.name in capacity:  # Pools served by workers of other systems have no capacity here.
            limits[f"pool {pool.name} worker capacity"] = capacity[pool.name]
    for queue in platform.queues:
        if queue.concurrency_limit is not None:
            limits[f"queue {queue.pool}/{queue.name} concurrencyLimit"] = queue.concurrency_limit
    for limit in platform.concurrency_limits:
        limits[f"concurrency limit {limit.name}"] = limit.limit
    for key, value in platform.variables.items():
        if key.endswith("_max_concurrent_tasks") and is_number(value):
            limits[f"variable {key}"] = value
    return limits


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)

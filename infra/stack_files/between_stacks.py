"""Rules between the stack files, on their validated settings (`make check`; `make preview` and `make up` run
it first). They are the repository's rules, not one stack's: a policy, which sees the resources of one stack,
cannot judge them."""

import itertools
from collections import defaultdict
from typing import TypeGuard
from urllib.parse import urlsplit

import rpa_naming
from infra.stack_files.prefect_kinds import declared_objects
from infra.stack_files.settings import PlatformSettings, StackSettings
from infra.stack_files.stack_config import STACKS
from infra.url_credentials import masked_url


def between_stacks_problems(stacks: list[StackSettings]) -> list[str]:
    """The problems between `stacks` (those whose own file is valid), as `make check` prints them."""
    return [
        *(f"one identity per stack: {problem}" for problem in objects_written_twice(stacks)),
        *(f"environments: {violation}" for violation in limits_shrinking_toward_production(stacks)),
    ]


def objects_written_twice(stacks: list[StackSettings]) -> list[str]:
    """Prefect objects that two stacks on one server would both write: the second `up` would fail on it, or,
    adopting, the two would overwrite each other's. Variables are named by environment, not by stack, so two
    stacks of one environment on one server meet there first."""
    problems = []
    for first, second in itertools.combinations(stacks, 2):
        if same_server(first.config.prefect_api_url, second.config.prefect_api_url):
            keys = {o.inputs.label(): o.path for _kind, o in declared_objects(first)}
            for _kind, other in declared_objects(second):
                if (key := keys.get(other.inputs.label())) is not None:
                    problems.append(
                        f"{first.source} ({key}) and {second.source} ({other.path}) both write "
                        f"{other.inputs.label()} on {masked_url(first.config.prefect_api_url)}: give one of "
                        "them another environment or another prefectApiUrl"
                    )
    return problems


def same_server(first: str, second: str) -> bool:
    return server_of(first) == server_of(second)


def server_of(api_url: str) -> tuple[str, str, str]:
    """The server an API URL names: scheme and host are case-blind, and a trailing slash changes nothing."""
    url = urlsplit(api_url)
    return url.scheme.lower(), url.netloc.lower(), url.path.rstrip("/")


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
    for flow in rpa_naming.FLOWS:
        key = rpa_naming.flow_variable_key(flow, rpa_naming.MAX_CONCURRENT_TASKS)
        if is_number(value := platform.variables.get(key)):
            limits[f"variable {key}"] = value
    return limits


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)

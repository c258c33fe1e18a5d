"""The rules as pulumi-policy policies. Runs inside the pack's own virtualenv (see PulumiPolicy.yaml), with
this directory on sys.path, so `rules` is imported as a top-level module."""

from collections.abc import Callable, Mapping
from typing import Any

import rules
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ResourceRule = Callable[[str, Mapping[str, Any]], list[str]]
StackRule = Callable[[list[rules.Resource]], list[str]]


def resource_policy(name: str, description: str, rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props):
            report(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


def stack_policy(name: str, description: str, rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message in rule([(resource.resource_type, resource.props) for resource in args.resources]):
            report(message, None)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


POLICIES = [
    resource_policy(
        "no-privileged-workers", "Worker containers never run privileged.", rules.no_privileged_worker
    ),
    resource_policy(
        "no-zero-limit-unless-inactive",
        "A concurrency limit of 0 only on an object that is switched off.",
        rules.no_zero_limit_unless_inactive,
    ),
    stack_policy(
        "workers-target-their-stack-pools",
        "Every worker polls a work pool its own stack defines.",
        rules.workers_target_pools_of_their_stack,
    ),
    stack_policy(
        "worker-capacity-reaches-pool-limit",
        "The workers of a pool can start as many flow runs as the pool admits.",
        rules.worker_capacity_reaches_pool_limit,
    ),
]

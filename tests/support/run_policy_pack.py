"""Run inside the policy pack's own virtualenv: apply every policy of the pack to the resources given as JSON
on stdin ([[type, props], ...]) and print the violations as JSON ({policy: [messages]}).

The pack's PolicyPack object is not built: constructing it starts the analyzer's gRPC server and blocks.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra" / "policies"))

from pack import POLICIES
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def main() -> None:
    resources = json.load(sys.stdin)
    violations: dict[str, list[str]] = {policy.name: [] for policy in POLICIES}
    for policy in POLICIES:

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            violations[name].append(message)

        if isinstance(policy, ResourceValidationPolicy):
            for index, (resource_type, props) in enumerate(resources):
                args = ResourceValidationArgs(
                    resource_type, props, f"urn:{index}", f"r{index}", options(), None
                )
                policy.validate(args, report)
        else:
            stack = [
                PolicyResource(
                    resource_type, props, f"urn:{index}", f"r{index}", options(), None, None, [], {}
                )
                for index, (resource_type, props) in enumerate(resources)
            ]
            policy.validate(StackValidationArgs(stack), report)
    json.dump(violations, sys.stdout)


main()

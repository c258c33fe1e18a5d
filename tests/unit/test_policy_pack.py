"""The policy pack itself, in its own virtualenv (pulumi-policy pins protobuf 5.29; the main environment has
prefect's newer one): the shipped stacks pass, a privileged worker with too little capacity does not."""

import json
import subprocess
from typing import Any

import pytest

from infra.policies import rules
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS
from tests.unit.test_policy_rules import declared

POLICY_PYTHON = PROJECT_ROOT / "infra" / "policies" / "venv" / "bin" / "python"
RUNNER = PROJECT_ROOT / "tests" / "support" / "run_policy_pack.py"


def run_pack(resources: list[rules.Resource]) -> dict[str, list[str]]:
    if not POLICY_PYTHON.exists():
        pytest.fail(
            "the policy pack's virtualenv is missing: run `make setup` (it creates infra/policies/venv)"
        )
    result = subprocess.run(
        [str(POLICY_PYTHON), str(RUNNER)],
        input=json.dumps(resources, default=str),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_passes_the_pack(stack: str) -> None:
    violations = run_pack(declared(stack))
    assert set(violations) == {
        "no-privileged-workers",
        "no-zero-limit-unless-inactive",
        "workers-target-their-stack-pools",
        "worker-capacity-reaches-pool-limit",
    }
    assert all(messages == [] for messages in violations.values()), violations


def test_bad_stack_is_refused_by_the_pack() -> None:
    bad: list[Any] = []
    for resource_type, props in declared("dev"):
        if resource_type == rules.CONTAINER:
            props = {**props, "privileged": True}
        if resource_type == rules.WORK_POOL:
            props = {**props, "concurrencyLimit": 9.0}
        bad.append((resource_type, props))
    violations = run_pack(bad)
    assert len(violations["no-privileged-workers"]) == 1
    assert "admits 9 concurrent flow runs" in violations["worker-capacity-reaches-pool-limit"][0]

"""The list of Prefect object kinds is the one the program, the policy pack and the contract cases go by: a
kind added there and not here (or the other way round) fails."""

import pytest

from infra.policies import rules
from infra.prefect_resources.work_queue_priorities import WorkQueuePriorities
from infra.stack_files.prefect_kinds import KINDS, PrefectKind, declared_objects, stack_file_property
from infra.stack_files.stack_config import STACKS, from_stack_file, stack_file
from tests.contract.resource_cases import CASES

# Kinds whose contract is a module of its own rather than a case of the shared suite.
OWN_CONTRACT_MODULE = {WorkQueuePriorities: "tests/contract/test_queue_priorities.py"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.resource.__name__)
def test_every_kind_has_a_contract_case(kind: PrefectKind) -> None:
    assert (
        kind.resource.provider_class in {case.provider for case in CASES}
        or kind.resource in OWN_CONTRACT_MODULE
    )


def test_every_contract_case_is_a_kind() -> None:
    assert {case.provider for case in CASES} <= {kind.resource.provider_class for kind in KINDS}


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if k.zero_limit_property], ids=lambda kind: kind.resource.__name__
)
def test_the_policy_pack_judges_the_zero_limits_of_each_kind_that_has_one(kind: PrefectKind) -> None:
    """The rules know these kinds by type token: a token that drifted from the resource's would let a zero
    limit through the preview."""
    props = {"name": "x", "tag": "x", kind.zero_limit_property: 0}
    assert rules.no_zero_limit_unless_inactive(kind.type_token, props), kind.type_token


@pytest.mark.parametrize("stack", STACKS)
def test_each_object_is_declared_once_after_what_it_needs(stack: str) -> None:
    names: list[str] = []
    for _kind, declared in declared_objects(from_stack_file(stack_file(stack))):
        assert set(declared.after) <= set(names), f"{declared.resource_name} before {declared.after}"
        names.append(declared.resource_name)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("prop", "written"),
    [
        ("workPoolName", "pool"),
        ("jobDefaults.mem_limit", "jobDefaults.memLimit"),
        ("baseJobTemplate.variables.properties.image_pull_policy.default", "jobDefaults.imagePullPolicy"),
        ("baseJobTemplate.variables.properties.env.default.RPA_X", "jobDefaults.env.RPA_X"),
        ("baseJobTemplate.job_configuration.command", "baseJobTemplate.job_configuration.command"),
        ("concurrencyLimit", "concurrencyLimit"),
    ],
)
def test_a_property_is_named_as_the_stack_file_writes_it(prop: str, written: str) -> None:
    """Problems and drift name the key a stack author edits: a pool's template holds the job defaults."""
    assert stack_file_property(prop) == written

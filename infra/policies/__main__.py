"""The policy pack: `pulumi preview --policy-pack infra/policies`."""

from pack import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="rpa-platform", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)

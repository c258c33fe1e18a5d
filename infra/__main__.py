"""The Pulumi program: this stack's settings -> the RPA platform -> its outputs."""

import pulumi

from infra.rpa_platform import RpaPlatform
from infra.stack_config import from_pulumi_config

platform = RpaPlatform("rpa-platform", from_pulumi_config())
for key, value in platform.outputs.items():
    pulumi.export(key, value)

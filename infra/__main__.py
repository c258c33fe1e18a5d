"""The Pulumi program: this stack's settings -> the RPA platform -> its outputs."""

import pulumi

from infra.program.api_preflight import require_api
from infra.program.rpa_platform import RpaPlatform
from infra.stack_files.stack_config import from_pulumi_config

settings = from_pulumi_config()
if settings.config.server is None:
    # A stack with its own server brings the API up itself: it need not (and on a first `up` cannot) answer.
    require_api(settings)
platform = RpaPlatform("rpa-platform", settings)
for key, value in platform.outputs.items():
    pulumi.export(key, value)

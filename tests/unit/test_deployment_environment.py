"""Every deployment in the shipped prefect.yaml names its stack and environment in its job variables, and they
are those of the stack whose pool it deploys into: a run of it never depends on a fallback."""

import pytest

from infra.stack_files.stack_config import PROJECT_ROOT, STACKS, from_stack_file, stack_file
from infra.yaml_file import load_yaml
from rpa_naming import ENVIRONMENT_ENV_VAR, STACK_ENV_VAR

STACK_OF_POOL = {
    settings.pool_name(pool.name): settings
    for settings in (from_stack_file(stack_file(stack)) for stack in STACKS)
    for pool in settings.platform.pools
}
DEPLOYMENTS = load_yaml(PROJECT_ROOT / "prefect.yaml")["deployments"]


@pytest.mark.parametrize(
    "deployment", DEPLOYMENTS, ids=[f"{d['entrypoint'].rsplit(':')[-1]}/{d['name']}" for d in DEPLOYMENTS]
)
def test_deployment_sets_the_stack_of_its_pool(deployment: dict) -> None:
    pool = deployment["work_pool"]
    stack = STACK_OF_POOL[pool["name"]]
    env = pool.get("job_variables", {}).get("env", {})
    assert env.get(STACK_ENV_VAR) == stack.stack
    assert env.get(ENVIRONMENT_ENV_VAR) == stack.environment

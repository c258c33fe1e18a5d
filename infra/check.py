"""`make check`: validate every stack file, the rules between them and prefect.yaml against them, without
the Pulumi CLI or a Prefect server.

Exit status 1 with every problem listed (file, key, what is allowed) when anything is wrong.
"""

import sys

from infra import config_keys
from infra.deployment_check import check_prefect_yaml
from infra.flow_requirements import flow_requirement_problems
from infra.policies import rules
from infra.settings import SettingsError
from infra.stack_config import PROJECT_ROOT, from_stack_file


def main() -> int:
    failed = False
    stacks = []
    for path in sorted(PROJECT_ROOT.glob("Pulumi.*.yaml")):
        try:
            settings = from_stack_file(path)
        except SettingsError as error:
            print(error, file=sys.stderr)
            failed = True
            continue
        stacks.append(settings)
        for problem in flow_requirement_problems(settings):
            print(f"{path.name}: {config_keys.PROJECT}:{problem.property}: {problem.reason}", file=sys.stderr)
            failed = True
        platform = settings.platform
        print(
            f"{path.name}: ok ({settings.environment}: {len(platform.pools)} pool(s), {len(platform.queues)} "
            f"queue(s), {sum(w.replicas for w in platform.workers)} worker(s), {len(platform.variables)} "
            f"variable(s), {len(platform.concurrency_limits)} limit(s))"
        )
    for violation in rules.environments_grow_toward_production(rules.read_stack_platforms()):
        print(f"environments: {violation}", file=sys.stderr)
        failed = True
    problems = check_prefect_yaml(PROJECT_ROOT / "prefect.yaml", stacks)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("prefect.yaml: ok (every deployment's pool, queue and concurrency agree with its stack)")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make check`: validate every stack file, the rules between them and prefect.yaml against them, without
the Pulumi CLI or a Prefect server.

`python -m infra.cli.check [ROOT]` checks the `Pulumi.<stack>.yaml` files, the prefect.yaml and the GitOps
apply workflow in ROOT (by default this repository). Every check runs, on the stack files that are valid;
exit status 1 with every problem listed (file, key, what is allowed) when anything is wrong.
"""

import argparse
import sys
from pathlib import Path

from infra.stack_files.between_stacks import between_stacks_problems
from infra.stack_files.deployment_check import check_prefect_yaml
from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file, stack_files
from infra.stack_files.workflow_check import apply_workflow_problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.check", description=__doc__)
    parser.add_argument("root", nargs="?", type=Path, default=PROJECT_ROOT, help="default: this repository")
    root: Path = parser.parse_args(argv).root
    failed = False
    stacks = []
    for path in stack_files(root):
        try:
            settings = from_stack_file(path)
        except SettingsError as error:
            print(error, file=sys.stderr)
            failed = True
            continue
        stacks.append(settings)
        platform = settings.platform
        workers, variables = sum(w.replicas for w in platform.workers), len(settings.server_variables)
        print(
            f"{path.name}: ok ({settings.environment}: {len(platform.pools)} pool(s), {len(platform.queues)} "
            f"queue(s), {workers} worker(s), {variables} variable(s), {len(platform.concurrency_limits)} "
            "limit(s))"
        )
    for problem in [*between_stacks_problems(stacks), *apply_workflow_problems(root)]:
        print(problem, file=sys.stderr)
        failed = True
    problems = check_prefect_yaml(root / "prefect.yaml", stacks)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("prefect.yaml: ok (every deployment's pool, queue and concurrency agree with its stack)")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())

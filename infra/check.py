"""`make check`: validate every stack file, the rules between them and prefect.yaml against them, without
the Pulumi CLI or a Prefect server.

`python -m infra.check [ROOT]` checks the `Pulumi.<stack>.yaml` files and the prefect.yaml in ROOT (by default
this repository). Every check runs, on the stack files that are valid; exit status 1 with every problem listed
(file, key, what is allowed) when anything is wrong.
"""

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

from infra.deployment_check import check_prefect_yaml
from infra.policies import rules
from infra.settings import SettingsError, StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file, stack_files


def shared_host_port_clashes(stacks: list[StackSettings]) -> list[str]:
    """Stacks may share a Docker host (all three do on a laptop); host-networked workers of different stacks
    then share its ports too. Clashes within one stack are the stack file's own validation."""
    clashes = []
    for other, stack in itertools.combinations(stacks, 2):
        for other_worker, worker in itertools.product(other.platform.workers, stack.platform.workers):
            if ports := worker.ports_shared_with(other_worker):
                clashes.append(
                    f"{stack.source}: platform.workers ({worker.pool}) healthPort: ports {min(ports)}-"
                    f"{max(ports)} are also used by {other.source} ({other_worker.pool}) on the same Docker "
                    f"host {worker.docker_host}; choose a free range"
                )
    return clashes


def validated_platforms(stacks: list[StackSettings]) -> dict[str, dict[str, Any]]:
    """The platforms as the policy rules read stack files (camelCase), from settings already validated."""
    return {stack.stack: stack.platform.model_dump(by_alias=True) for stack in stacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.check", description=__doc__)
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
        print(
            f"{path.name}: ok ({settings.environment}: {len(platform.pools)} pool(s), {len(platform.queues)} "
            f"queue(s), {sum(w.replicas for w in platform.workers)} worker(s), {len(platform.variables)} "
            f"variable(s), {len(platform.concurrency_limits)} limit(s))"
        )
    for violation in rules.environments_grow_toward_production(validated_platforms(stacks)):
        print(f"environments: {violation}", file=sys.stderr)
        failed = True
    for clash in shared_host_port_clashes(stacks):
        print(clash, file=sys.stderr)
        failed = True
    problems = check_prefect_yaml(root / "prefect.yaml", stacks)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("prefect.yaml: ok (every deployment's pool, queue and concurrency agree with its stack)")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())

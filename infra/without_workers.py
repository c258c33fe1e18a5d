"""A stack file with its worker containers left out, for a machine where pulumi-docker's plugin cannot be
installed (see tools/pulumi/FACTS.md): `make local` applies the stack with it through `pulumi up
--config-file`, so that everything else of the stack still comes up through the real engine.

`python -m infra.without_workers STACK OUT` writes it, unless the stack's state already holds worker
containers: applying a file without them would delete them.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from infra import config_keys
from infra.settings import SettingsError
from infra.stack_config import read_stack_document, stack_file


def workers_in_state(stack: str) -> list[str]:
    """The worker containers the stack's last update made (none when the stack has no state yet)."""
    answer = subprocess.run(
        ["pulumi", "stack", "output", "workerContainers", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(answer.stdout) if answer.returncode == 0 and answer.stdout.strip() else []


def without_workers(document: dict[str, Any]) -> dict[str, Any]:
    """The stack file's document (as `read_stack_document` gives it) with `platform.workers` removed;
    everything else (the encryption salt, secrets, comments aside) as it was."""
    config = dict(document["config"])
    platform = config.get(config_keys.qualified(config_keys.PLATFORM))
    if isinstance(platform, dict):
        config[config_keys.qualified(config_keys.PLATFORM)] = {
            key: value for key, value in platform.items() if key != "workers"
        }
    return {**document, "config": config}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.without_workers", description=__doc__)
    parser.add_argument("stack")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if held := workers_in_state(args.stack):
        print(
            f"stack {args.stack} holds worker containers ({', '.join(held)}); applying it without them would "
            "delete them. Install pulumi-resource-docker (tools/pulumi/docker-plugin.sh) instead.",
            file=sys.stderr,
        )
        return 1
    try:
        document = read_stack_document(stack_file(args.stack))
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    if (server_key := config_keys.qualified(config_keys.SERVER)) in document["config"]:
        print(
            f"stack {args.stack} runs its own Prefect server (`{server_key}`), "
            "a pulumi-docker container like its workers: it needs pulumi-resource-docker "
            "(tools/pulumi/docker-plugin.sh); without it, remove `server:` and target a running server "
            "(`make server`).",
            file=sys.stderr,
        )
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.safe_dump(without_workers(document), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

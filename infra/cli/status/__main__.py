"""`python -m infra.cli.status [STACK ...]`: a live view of each stack (all of them by default) from its
Prefect API, checked against its stack file. Exits 0 when all is well, 1 when something is stuck or has
drifted or a worker the stack file declares is not online, 2 when a stack file is invalid or its API cannot
be read (one line naming the stack and the URL)."""

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from infra.cli.status.model import StackError, StackReport, StatusOutput
from infra.cli.status.render import render
from infra.cli.status.report import Options, StackUnavailable, stack_report
from infra.stack_files.settings import SettingsError
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file, stack_file, stack_files, stack_of

OK, FINDINGS, UNAVAILABLE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.status", description=__doc__)
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="default: every stack")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--runs", type=at_least(1), default=10, help="last flow runs to show (10)")
    parser.add_argument("--window-minutes", type=at_least(1), default=60, help="error-rate window (60)")
    parser.add_argument(
        "--stuck-after", type=at_least(0), default=120, metavar="SECONDS", help="Cancelling or Pending (120)"
    )
    parser.add_argument("--dir", type=Path, default=PROJECT_ROOT, help="the stack files' directory")
    args = parser.parse_args(argv)
    options = Options(
        runs=args.runs, window_minutes=args.window_minutes, stuck_after_seconds=args.stuck_after
    )
    paths = [stack_file(stack, args.dir) for stack in args.stacks] or stack_files(args.dir)

    reports: list[StackReport] = []
    errors: list[StackError] = []
    for path in paths:
        stack = stack_of(path)
        try:
            if not path.is_file():
                known = ", ".join(p.name for p in stack_files(args.dir)) or "none"
                raise StackUnavailable(f"{stack}: no stack file {path} (stack files: {known})")
            reports.append(stack_report(from_stack_file(path), options, datetime.now(UTC)))
        except (SettingsError, StackUnavailable) as error:
            errors.append(StackError(stack=stack, error=str(error)))
            print(error, file=sys.stderr)

    if args.json:
        print(StatusOutput(reports=reports, errors=errors).model_dump_json(indent=2))
    else:
        # Piped into a file or a CI log, rich would assume 80 columns and wrap names: give it room.
        console = Console(width=None if sys.stdout.isatty() else 140)
        for report in reports:
            render(console, report)
    if errors:
        return UNAVAILABLE
    return FINDINGS if any(report.findings for report in reports) else OK


def at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


if __name__ == "__main__":
    sys.exit(main())

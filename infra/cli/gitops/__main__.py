"""`python -m infra.cli.gitops pr-preview|merge-apply --base REF [--root DIR] [--out FILE]`: run the verb,
write its Markdown summary (default .build/gitops/<verb>.md) and print it; exit 1 naming each failure."""

import argparse
import sys
from pathlib import Path

from infra.cli.gitops.changed_stacks import GitError
from infra.cli.gitops.merge_apply import merge_apply
from infra.cli.gitops.pr_preview import pr_preview
from infra.stack_files.stack_config import PROJECT_ROOT, STACKS

VERBS = ("pr-preview", "merge-apply")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.gitops", description=__doc__)
    parser.add_argument("verb", choices=VERBS)
    parser.add_argument("--base", required=True, help="the change is git diff BASE...HEAD")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="default: this repository")
    parser.add_argument("--out", type=Path, help="default: ROOT/.build/gitops/<verb>.md")
    parser.add_argument("--only", choices=STACKS, help="merge-apply: this stack alone, if touched")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        if args.verb == "pr-preview":
            lines, failures = pr_preview(root, args.base)
        else:
            lines, failures = merge_apply(root, args.base, args.only)
    except GitError as error:
        print(f"{args.verb}: {error}", file=sys.stderr)
        return 2
    out: Path = args.out or root / ".build" / "gitops" / f"{args.verb}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")
    print(out.read_text())
    print(f"{args.verb}: summary in {out}")
    for failure in failures:
        print(f"{args.verb}: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

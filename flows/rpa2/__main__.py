"""Run rpa2 once against PREFECT_API_URL: `python -m flows.rpa2 [--page-size N]`.

The stack's Variables and limits must exist (stack from RPA_STACK, default dev); the ERP and database come
from RPA_ERP_API_URL / RPA_DATABASE_URL (defaults: the demo ERP on 127.0.0.1:8765, ./rpa-results.db)."""

import argparse

from flows.rpa2.flow import rpa2


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.rpa2", description=__doc__)
    parser.add_argument("--page-size", type=int, default=20)
    args = parser.parse_args()
    print(rpa2(page_size=args.page_size).model_dump_json())


if __name__ == "__main__":
    main()

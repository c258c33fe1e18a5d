"""Run rpa3 once against PREFECT_API_URL: `python -m flows.rpa3 [--items N] [--batch B]`.

The stack's Variables and limits must exist (stack from RPA_STACK, default dev); the ERP and database come
from RPA_ERP_API_URL / RPA_DATABASE_URL (defaults: the demo ERP on 127.0.0.1:8765, ./rpa-results.db)."""

import argparse

from flows.rpa3.flow import rpa3


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.rpa3", description=__doc__)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--batch", default=None)
    args = parser.parse_args()
    print(rpa3(item_count=args.items, batch=args.batch).model_dump_json())


if __name__ == "__main__":
    main()

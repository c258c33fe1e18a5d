"""Run rpa1 once against PREFECT_API_URL: `python -m flows.rpa1 [--documents N | --inbox DIR]`.

The stack's Variables and limits must exist (stack from RPA_STACK, default dev); the ERP and database come
from RPA_ERP_API_URL / RPA_DATABASE_URL (defaults: the demo ERP on 127.0.0.1:8765, ./rpa-results.db)."""

import argparse

from flows.rpa1.flow import rpa1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.rpa1", description=__doc__)
    parser.add_argument("--documents", type=int, default=30, help="how many demo documents to generate")
    parser.add_argument("--inbox", default=None, help="a directory of *.txt invoices instead")
    parser.add_argument("--batch", default=None)
    args = parser.parse_args()
    print(rpa1(document_count=args.documents, inbox=args.inbox, batch=args.batch).model_dump_json())


if __name__ == "__main__":
    main()

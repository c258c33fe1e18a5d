"""`python -m operations.free_slots LIMIT SLOTS`: give back SLOTS slots of a global concurrency limit that its
Prefect server counts but no lease holds (see `flows/runtime/unheld_slots.py`; the runtime's errors name the
command with its numbers). It takes slots off the count rather than setting the count, as
`prefect global-concurrency-limit update --active-slots` does: slots that live flow runs hold stay counted."""

import argparse
import sys

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m operations.free_slots", description=__doc__)
    parser.add_argument("limit", help="the global concurrency limit's name, e.g. prod-erp-api")
    parser.add_argument("slots", type=int, help="how many slots to give back")
    args = parser.parse_args()
    if args.slots < 1:
        sys.exit("slots: give back at least 1")
    with get_client(sync_client=True) as client:
        try:
            before = client.read_global_concurrency_limit_by_name(args.limit).active_slots
        except ObjectNotFound:
            sys.exit(f"no global concurrency limit named {args.limit!r} on {client.api_url}")
        # Not the client's release_concurrency_slots: it must send an occupancy (> 0), which would enter the
        # limit's average occupancy (Prefect's Retry-After) although nobody occupied these slots.
        body = {"names": [args.limit], "slots": args.slots}
        client.request("POST", "/v2/concurrency_limits/decrement", json=body)
        after = client.read_global_concurrency_limit_by_name(args.limit).active_slots
    print(f"{args.limit}: {before} -> {after} slots held")


if __name__ == "__main__":
    main()

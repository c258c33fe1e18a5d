"""`python -m local_prefect_server [--host H] [--port P] [--home DIR] start|stop` (what `make server` and
`make server-stop` run). The home defaults to PREFECT_HOME, else .prefect-home/."""

import argparse
import os
import sys
from pathlib import Path

from local_prefect_server.detached_server import DetachedServer, ServerError


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_prefect_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("PREFECT_HOME") or ".prefect-home"))
    parser.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args()
    server = DetachedServer(args.host, args.port, args.home.resolve())
    try:
        print(server.start() if args.action == "start" else server.stop())
    except ServerError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()

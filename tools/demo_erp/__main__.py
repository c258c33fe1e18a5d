"""`python -m tools.demo_erp --port 8765 [--latency 0.05] [--max-concurrency N] [--rate R --burst B]`"""

import argparse

import uvicorn

from tools.demo_erp.app import create_app
from tools.demo_erp.behaviour import ErpBehaviour


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.demo_erp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per business request")
    parser.add_argument("--max-concurrency", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None, help="requests per second (token refill)")
    parser.add_argument("--burst", type=int, default=None, help="token-bucket capacity (default: the rate)")
    args = parser.parse_args()
    behaviour = ErpBehaviour(
        latency_seconds=args.latency,
        max_concurrency=args.max_concurrency,
        rate_per_second=args.rate,
        rate_burst=args.burst,
    )
    uvicorn.run(create_app(behaviour), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

"""`python -m tools.demo_erp --port 8765 [--latency 0.05] [--max-concurrency N] [--capacity N]
[--rate R --burst B] [--step SECONDS:FIELD=VALUE[,FIELD=VALUE] ...]`

Each `--step` changes the behaviour that many seconds after the ERP started, e.g. the 429 cap 10, dropping to
4 after 20 s and back to 10 after 40 s: `--max-concurrency 10 --step 20:max_concurrency=4 --step
40:max_concurrency=10`. Fields are ErpBehaviour's (latency_seconds, max_concurrency, capacity, ...)."""

import argparse
import time

import uvicorn

from tools.demo_erp.app import create_app
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.parent_watch import exit_with_parent
from tools.demo_erp.schedule import BehaviourSchedule, BehaviourStep, parse_step


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo_erp", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per business request")
    parser.add_argument("--max-concurrency", type=int, default=None, help="429 above this many in flight")
    parser.add_argument(
        "--capacity", type=int, default=None, help="served at once; the others wait in line (slower, no 429)"
    )
    parser.add_argument("--rate", type=float, default=None, help="requests per second (token refill)")
    parser.add_argument("--burst", type=int, default=None, help="token-bucket capacity (default: the rate)")
    parser.add_argument(
        "--step",
        action="append",
        default=[],
        metavar="SECONDS:FIELD=VALUE,...",
        help="change the behaviour this long after the start (repeatable; each step builds on the options)",
    )
    parser.add_argument(
        "--exit-with-parent",
        type=int,
        metavar="PID",
        help="stop once PID is no longer this process's parent (a launcher passes its own: see launcher.py)",
    )
    args = parser.parse_args()
    if args.exit_with_parent is not None:
        exit_with_parent(args.exit_with_parent)
    behaviour = ErpBehaviour(
        latency_seconds=args.latency,
        max_concurrency=args.max_concurrency,
        capacity=args.capacity,
        rate_per_second=args.rate,
        rate_burst=args.burst,
    )
    # Each step is relative to the base behaviour and the one before it: later steps keep earlier changes.
    steps: list[BehaviourStep] = []
    for text in args.step:
        steps.append(parse_step(text, steps[-1].behaviour if steps else behaviour))
    schedule = BehaviourSchedule(start_at=time.time(), steps=steps) if steps else None
    app = create_app(behaviour, schedule)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    # Bound here rather than by uvicorn, so that "listening" is printed only once it is true.
    listening = config.bind_socket()
    print(
        f"demo ERP listening on http://{args.host}:{args.port} (business API under /api, admin under "
        "/_admin); Ctrl-C stops it",
        flush=True,
    )
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main()

"""`python -m tools.loadtest --stack dev [--flow-runs 4] [--items 200] [--step-up 2:16:2] [--mode auto]`

Many rpa3 flow runs at once against the stack's Prefect server (PREFECT_API_URL, else the stack file's API)
and a demo ERP of their own that enforces the stack's limits. The runs go through the stack's deployment
(rpa3/<stack>) when a worker of its pool is online, else they run locally as processes; the result says which
and why. Writes loadtest-results/<stack>-<UTC timestamp>.json and .png. Exit codes: 0 done, 2 bad input,
3 the stack's objects are missing on the server (with --mode deployments: or its deployment, or an online
worker), 4 no run was picked up by the online workers, 130 interrupted."""

import argparse
import signal
import sys
from pathlib import Path
from typing import get_args

from prefect.settings import PREFECT_API_URL, temporary_settings
from rich.console import Console

from rpa_naming import Environment
from tools.loadtest.deployment_runs import RunsNotStarted
from tools.loadtest.load import run_load
from tools.loadtest.output import load_table, result_stem, step_up_table, write_load, write_step_up
from tools.loadtest.plan import LoadPlan, PlanError, StepUpRange
from tools.loadtest.route import MODES, NoDeploymentRoute, choose_route
from tools.loadtest.stack_objects import MissingStackObjects, read_stack_limits
from tools.loadtest.step_up import run_step_up
from tools.loadtest.target import Target, resolve_target

BAD_INPUT, MISSING_STACK, NOT_STARTED, INTERRUPTED = 2, 3, 4, 130


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.loadtest", description=__doc__)
    parser.add_argument("--stack", default="dev")
    parser.add_argument(
        "--environment", choices=get_args(Environment), help="default: the stack file's environment"
    )
    parser.add_argument("--flow-runs", type=int, default=4, help="flow runs at once (default 4)")
    parser.add_argument("--items", type=int, default=200, help="items per flow run (default 200)")
    parser.add_argument("--erp-latency", type=float, default=0.05, help="seconds per ERP call (default 0.05)")
    parser.add_argument("--out-dir", type=Path, default=Path("loadtest-results"))
    parser.add_argument(
        "--step-up",
        metavar="START:STOP[:STEP]",
        help="tune: width Variable and erp-api limit from START to STOP, one shorter load per step",
    )
    parser.add_argument(
        "--step-items", type=int, default=50, help="items per flow run in each step (default 50)"
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="auto (default): through the stack's deployment when a worker of its pool is online, else local",
    )
    return parser.parse_args()


def _run(arguments: argparse.Namespace, target: Target, console: Console) -> None:
    # The stack's objects before the route: without them no mode can run.
    limits = read_stack_limits(target)
    route = choose_route(target, arguments.mode)
    console.print(route.reason)
    if arguments.step_up is None:
        plan = LoadPlan(
            target.stack, arguments.flow_runs, arguments.items, arguments.erp_latency, arguments.out_dir
        )
        result = run_load(plan, target, route, limits, console)
        path = write_load(result, result_stem(plan.out_dir, target.stack))
        console.print(load_table(result))
        console.print(f"wrote {path} and {result.picture}")
        return
    values = StepUpRange.parse(arguments.step_up)
    plan = LoadPlan(
        target.stack, arguments.flow_runs, arguments.step_items, arguments.erp_latency, arguments.out_dir
    )
    tuned = run_step_up(plan, values, target, route, console)
    path = write_step_up(tuned, result_stem(plan.out_dir, target.stack, "-step-up"))
    console.print(step_up_table(tuned))
    console.print(tuned.knee_reason or "no knee: throughput still grew at the last step; try higher values")
    console.print(f"recommended: {tuned.recommended}; wrote {path}")


def main() -> int:
    # Ctrl-C is how a load is stopped with its flow runs and ERP: an ignored SIGINT inherited from whatever
    # started this process (a background job of a shell without job control) must not make it deaf to it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    arguments = _arguments()
    console = Console()
    try:
        # Checked before anything starts or changes: the plan, the step range, the stack.
        LoadPlan(
            arguments.stack, arguments.flow_runs, arguments.items, arguments.erp_latency, arguments.out_dir
        )
        LoadPlan(
            arguments.stack,
            arguments.flow_runs,
            arguments.step_items,
            arguments.erp_latency,
            arguments.out_dir,
        )
        if arguments.step_up is not None:
            StepUpRange.parse(arguments.step_up)
        target = resolve_target(arguments.stack, arguments.environment)
        with temporary_settings(updates={PREFECT_API_URL: target.api_url}):
            _run(arguments, target, console)
    except PlanError as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return BAD_INPUT
    except (MissingStackObjects, NoDeploymentRoute) as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return MISSING_STACK
    except RunsNotStarted as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return NOT_STARTED
    except KeyboardInterrupt:
        print("loadtest: interrupted; the ERP and the flow runs it started are stopped", file=sys.stderr)
        return INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())

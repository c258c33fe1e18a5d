"""Run a deployment and report on its flow run:
`python -m operations.run_report rpa3/dev [--param item_count=20]` follows the run, printing its state
changes, then prints its metrics table (the flow run's artifact, as the server holds it) and its page in
Prefect's UI. `python -m operations.run_report --flow-run <id>` reports on a run that exists already. Exits 1
unless the run ended Completed, 2 on bad arguments (as argparse does) or when the deployment or flow run does
not exist.

Against PREFECT_API_URL; the UI address is Prefect's UI URL setting (PREFECT_UI_URL, derived from the API's
by default)."""

import argparse
import json
import re
import sys
import time
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.runtime import MetricRow, read_rows

_POLL_SECONDS = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.deployment is None) == (args.flow_run is None):
        parser.error("give either a deployment or --flow-run")
    console = Console()
    with get_client(sync_client=True) as client:
        try:
            if args.flow_run is not None:
                flow_run = client.read_flow_run(args.flow_run)
            else:
                flow_run = _start(client, args.deployment, dict(args.param))
        except ObjectNotFound:
            missing = (
                f"flow run {args.flow_run}" if args.flow_run is not None else f"deployment {args.deployment}"
            )
            api = client.api_url.copy_with(userinfo=b"")  # never credentials in a message
            print(f"run_report: error: no {missing} on {api}", file=sys.stderr)
            return 2
        if args.flow_run is None:
            console.print(f"flow run [bold]{flow_run.name}[/] ({flow_run.id}) of {args.deployment}")
            flow_run = _follow(client, flow_run, console)
        _report(client, flow_run, console)
    return 0 if flow_run.state is not None and flow_run.state.is_completed() else 1


def flow_run_url(flow_run_id: UUID) -> str | None:
    ui_url = get_current_settings().ui_url
    return None if ui_url is None else f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


def _start(client: SyncPrefectClient, deployment: str, parameters: dict[str, Any]) -> FlowRun:
    found = client.read_deployment_by_name(deployment)
    return client.create_flow_run_from_deployment(found.id, parameters=parameters)


def _follow(client: SyncPrefectClient, flow_run: FlowRun, console: Console) -> FlowRun:
    """Until the run is final, printing each state it is seen in (a state shorter than a poll may be missed;
    the final one never is)."""
    seen: str | None = None
    while True:
        state = flow_run.state
        if state is not None and state.name != seen:
            seen = state.name
            console.print(
                f"{time.strftime('%H:%M:%S')} {state.name}" + (f": {state.message}" if state.message else "")
            )
        if state is not None and state.is_final():
            return flow_run
        time.sleep(_POLL_SECONDS)
        flow_run = client.read_flow_run(flow_run.id)


def _report(client: SyncPrefectClient, flow_run: FlowRun, console: Console) -> None:
    state = flow_run.state.name if flow_run.state is not None else "no state"
    console.print(f"flow run [bold]{flow_run.name}[/] ({flow_run.id}): {state}")
    table = read_rows(client, flow_run.id)
    if table is None:
        console.print("no metrics table: the run published none (it may have failed before its work started)")
    else:
        description, rows = table
        console.print(_terminal_markup(description))
        console.print(_render(rows))
    url = flow_run_url(flow_run.id)
    console.print(url if url is not None else "no UI URL: PREFECT_UI_URL is not set")


def _render(rows: list[MetricRow]) -> Table:
    table = Table()
    table.add_column("metric")
    table.add_column("of")
    table.add_column("value", justify="right")
    for row in rows:
        value = row["value"]
        table.add_row(row["metric"], row["of"], "-" if value is None else f"{value:g}")
    return table


def _terminal_markup(markdown: str) -> str:
    """The artifact's description is Markdown for Prefect's UI; its `**bold**` is the only markup it uses."""
    return re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", escape(markdown))


def _parameter(text: str) -> tuple[str, Any]:
    """`name=value`: the value as JSON when it is JSON (`20`, `true`, `"x"`, `[1]`), else the text itself."""
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m operations.run_report", description=__doc__)
    parser.add_argument("deployment", nargs="?", help="<flow>/<deployment>, e.g. rpa3/dev")
    parser.add_argument("--param", type=_parameter, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--flow-run", type=UUID, help="report on this flow run instead of starting one")
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""A stack's report as rich tables, findings last, each with the one command that fixes it. Findings are
printed as lines rather than table cells: a command wrapped inside a narrow cell could not be copied."""

import json
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.cli.status.model import Finding, StackReport, StackStatus, WorkerStatus
from infra.cli.status.stuck import is_slot_limit
from infra.field_changes import as_json
from infra.url_credentials import masked_url


def render(console: Console, report: StackReport) -> None:
    status = report.status
    verdict = (
        Text("ok", style="green") if report.ok else Text(f"{len(report.findings)} finding(s)", "bold red")
    )
    console.print(
        Text.assemble(
            (f"{status.stack}", "bold"), f" ({status.environment}) -> {masked_url(status.api_url)}: ", verdict
        )
    )
    for table in (
        pools(status),
        queues(status),
        workers(status),
        limits(status),
        variables(status),
        deployments(status),
        recent_runs(status),
    ):
        console.print(table)
    console.print(error_rate(status))
    for finding in report.findings:
        console.print(finding_text(finding), soft_wrap=True)
    console.print()


def table(title: str, *columns: str) -> Table:
    grid = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")  # a narrow terminal wraps a name; it never elides one
    return grid


def of_limit(used: int, limit: int | None) -> str:
    return f"{used} / {'unlimited' if limit is None else limit}"


def age(now: datetime, then: datetime | None) -> str:
    return "never" if then is None else f"{(now - then).total_seconds():.0f} s ago"


def pools(status: StackStatus) -> Table:
    grid = table("work pools", "pool", "type", "running", "pending", "cancelling", "active / limit", "paused")
    for pool in status.pools:
        grid.add_row(
            pool.name,
            pool.type,
            str(pool.running),
            str(pool.pending),
            str(pool.cancelling),
            of_limit(pool.active, pool.concurrency_limit),
            "paused" if pool.paused else "",
        )
    return grid


def queues(status: StackStatus) -> Table:
    grid = table("work queues", "queue", "priority", "limit", "late", "pending", "paused")
    for queue in status.queues:
        grid.add_row(
            f"{queue.pool}/{queue.name}",
            str(queue.priority),
            "unlimited" if queue.concurrency_limit is None else str(queue.concurrency_limit),
            Text(str(queue.late), "red" if queue.late else ""),
            str(queue.pending),
            "paused" if queue.paused else "",
        )
    return grid


def workers(status: StackStatus) -> Table:
    grid = table("workers", "pool", "worker", "status", "last heartbeat", "")
    grid.caption = "Prefect 3.9.1's server records no worker version"
    for worker in status.workers:
        grid.add_row(
            worker.pool,
            worker.name,
            worker_state(worker),
            age(status.collected_at, worker.last_heartbeat),
            "" if worker.declared else "not in the stack file",
        )
    return grid


def worker_state(worker: WorkerStatus) -> Text:
    if worker.online:
        return Text("online", "green")
    # A declared worker the server has never seen in its pool: its container is gone or never came up.
    return Text("offline" if worker.present else "missing", "red")


def limits(status: StackStatus) -> Table:
    grid = table("global concurrency limits", "limit", "active slots / limit", "slot decay /s", "state")
    for limit in status.limits:
        notes = [] if limit.active else ["inactive"]
        if not limit.declared:
            notes.append("not in the stack file")
        if not is_slot_limit(limit) and limit.active:
            notes.append("rate limit")
        grid.add_row(
            limit.name,
            of_limit(limit.active_slots, limit.limit),
            f"{limit.slot_decay_per_second:g}",
            ", ".join(notes),
        )
    return grid


def variables(status: StackStatus) -> Table:
    grid = table("variables", "variable", "on the server", "in the stack file", "")
    for variable in status.variables:
        held = json.dumps(variable.held) if variable.present else "(missing)"
        same = variable.present and as_json(variable.held) == as_json(variable.declared)
        grid.add_row(variable.name, held, json.dumps(variable.declared), "" if same else Text("drift", "red"))
    return grid


def deployments(status: StackStatus) -> Table:
    grid = table("deployments", "deployment", "pool", "slots in use / limit", "cancelling", "pending")
    for deployment in status.deployments:
        runs = [run for run in status.active_runs if run.deployment == deployment.name]
        grid.add_row(
            deployment.name,
            deployment.pool or "",
            "no limit"
            if deployment.concurrency_limit is None
            else of_limit(deployment.active_slots or 0, deployment.concurrency_limit),
            str(sum(run.state == "CANCELLING" for run in runs)),
            str(sum(run.state == "PENDING" for run in runs)),
        )
    return grid


def recent_runs(status: StackStatus) -> Table:
    grid = table(
        f"last {len(status.recent_runs)} flow runs", "flow run", "deployment", "state", "started", "duration"
    )
    for run in status.recent_runs:
        grid.add_row(
            run.name,
            run.deployment or "",
            run.state_name,
            age(status.collected_at, run.start_time),
            f"{run.duration_seconds:.1f} s",
        )
    return grid


def error_rate(status: StackStatus) -> Text:
    rate = status.error_rate
    head = f"error rate over the last {rate.window_minutes:g} min: "
    if rate.rate is None:
        return Text(head + "no flow run finished")
    return Text(
        f"{head}{rate.rate:.0%} ({rate.failed} failed + {rate.crashed} crashed of {rate.finished} finished)",
        "red" if rate.rate else "",
    )


def finding_text(finding: Finding) -> Text:
    text = Text.assemble((finding.kind.upper(), "bold red"), f" {finding.object}: {finding.message}")
    if finding.command:
        text.append("\n  fix: ")
        text.append(finding.command, "bold")
    return text

"""What is stuck: slots of a global limit that nothing can give back, and deployment runs that hang in
Cancelling or Pending, each with the command that frees it where there is one (docs/operating.md, "Stuck
slots and stuck runs"). The commands are named as text (rpa_naming.operator_commands): infra never imports
the flows they act on."""

from infra.cli.status.model import DeploymentStatus, Finding, LimitStatus, RunStatus, StackStatus
from rpa_naming.operator_commands import cancel_stuck_run_command, free_slots_command

# Prefect's default lease (300 s, the longest a flow using Prefect's own `concurrency()` holds one without
# renewing; this project's runtime uses 60 s) plus two passes of the repossessor (every 15 s by default).
LEASE_QUIET_SECONDS = 330.0


def stuck_findings(status: StackStatus) -> list[Finding]:
    return stuck_limits(status) + stuck_runs(status)


def stuck_limits(status: StackStatus) -> list[Finding]:
    """Limits whose counted slots no flow run could hold. Prefect 3.9.1 shows no client the leases on a global
    limit, so who could hold a slot is judged instead: a run of the stack's pools, or of no pool (a flow
    started by hand finds its stack's limits by RPA_STACK), that is active or ended within
    LEASE_QUIET_SECONDS, whose lease the server's repossessor may still give back by itself (freeing those
    slots too would free someone else's later). A rate limit's slots drain by themselves. Limits are read
    before runs (collect.py), so a run that took a slot in between is seen as a possible holder."""
    if status.active_runs or status.runs_ended_lately:
        return []
    return [
        Finding(
            kind="stuck",
            object=f"global concurrency limit '{limit.name}'",
            message=(
                f"counts {limit.active_slots} of {limit.limit} slots, yet no flow run that could hold one is "
                f"active or ended in the last {LEASE_QUIET_SECONDS:.0f} s: no lease holds them, nothing will "
                "give them back"
            ),
            command=free_slots_command(limit.name, limit.active_slots),
        )
        for limit in status.limits
        if is_slot_limit(limit) and limit.active_slots > 0
    ]


def is_slot_limit(limit: LimitStatus) -> bool:
    return limit.active and limit.slot_decay_per_second == 0


def stuck_runs(status: StackStatus) -> list[Finding]:
    deployments = {deployment.name: deployment for deployment in status.deployments}
    findings = []
    for run in status.active_runs:
        deployment = deployments.get(run.deployment or "")
        seconds = stuck_for(run, status)
        if deployment is None or seconds is None:
            continue
        head = f"{run.state_name.lower()} for {seconds:.0f} s"
        command = None
        if run.state == "PENDING":
            message = f"{head}: its worker took it but never started it (is the worker alive?)"
        elif deployment.concurrency_limit is not None and holds_its_slot(deployment, status):
            message = (
                f"{head}, keeping a slot of deployment {deployment.name} ({deployment.active_slots} of "
                f"{deployment.concurrency_limit} in use); once its container or process is gone, give it back"
            )
            command = cancel_stuck_run_command(run.id)
        elif deployment.concurrency_limit is not None:
            # Marking it Cancelled would give back a slot reclaimed already: another run's.
            message = (
                f"{head}; its slot of deployment {deployment.name} was reclaimed already: delete it "
                f"(`prefect flow-run delete {run.id}`), or cancel it once no other run of the deployment is "
                "active"
            )
        else:
            message = f"{head}: its worker has not stopped it"
        findings.append(
            Finding(kind="stuck", object=f"flow run {run.name} ({run.id})", message=message, command=command)
        )
    return findings


def holds_its_slot(deployment: DeploymentStatus, status: StackStatus) -> bool:
    """Whether the deployment's limit still counts a slot for each of its active runs (Prefect counts
    Pending, Running and Cancelling ones), as `operations.stuck_cancelling` checks before giving one back."""
    active = sum(run.deployment == deployment.name and run.state != "PAUSED" for run in status.active_runs)
    return (deployment.active_slots or 0) >= active


def stuck_for(run: RunStatus, status: StackStatus) -> float | None:
    """Seconds in Cancelling or Pending, when over the threshold; None otherwise."""
    if run.state not in ("CANCELLING", "PENDING") or run.state_since is None:
        return None
    seconds = (status.collected_at - run.state_since).total_seconds()
    return seconds if seconds >= status.stuck_after_seconds else None

"""Declared workers that are not online: every worker container the stack file declares
(`infra.program.worker_spec`) must show in its pool, under its own name, as ONLINE. Prefect tells workers
apart by name alone, so another worker online in the pool (one started by hand) stands in for none of them:
the pool runs with fewer workers than the file says, or with none, and its runs wait as Late with nothing
to say why.

`make up STACK=<stack>` refreshes first, so a worker container that was removed is created again and one that
stopped is started again (pulumi-docker's `mustRun`); that is the command each finding names. A container that
runs yet sends no heartbeat is not seen by it: its log says why. A stack file without workers declares nothing
to check."""

from infra.cli.status.model import Finding, StackStatus, WorkerStatus
from infra.stack_files.settings import StackSettings


def offline_worker_findings(settings: StackSettings, status: StackStatus) -> list[Finding]:
    command = f"make up STACK={settings.stack}"
    return [
        Finding(
            kind="offline",
            object=f"worker {worker.name} in pool {worker.pool}",
            # The command is in the message too: the one line names the worker, its pool and what brings
            # it back, for whoever greps a CI log for the worker.
            message=(
                f"declared in {settings.source}, {not_online(worker, status)}: `{command}` brings it back"
            ),
            command=command,
        )
        for worker in status.workers
        if worker.declared and not worker.online
    ]


def not_online(worker: WorkerStatus, status: StackStatus) -> str:
    if not worker.present:
        return "but no worker of that name is registered in the pool"
    if worker.last_heartbeat is None:
        return "but offline, with no heartbeat yet"
    seconds = (status.collected_at - worker.last_heartbeat).total_seconds()
    return f"but offline, its last heartbeat {seconds:.0f} s ago"

"""A demo ERP that ends with the process that started it. Its launcher stops it on every path its code sees,
but a launcher killed outright (SIGKILL: a load test whose bound ran out, an OOM kill) runs no code, and the
ERP, in a session of its own, would go on serving.

The ERP watches its parent id, and stops itself once it was reparented. Chosen over Linux's PR_SET_PDEATHSIG,
which fires when the launcher's forking *thread* ends (not the process) and needs a preexec_fn, unsafe in a
launcher that runs threads (the load test's Prefect client does); this costs a getppid() twice a second."""

import os
import signal
import threading
import time

POLL_SECONDS = 0.5
STOP_BOUND_SECONDS = 10.0  # uvicorn's graceful stop takes well under a second; a hung one is cut short


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful stop, as a launcher's stop() would ask
    time.sleep(STOP_BOUND_SECONDS)
    os._exit(1)


def exit_with_parent(parent_pid: int) -> None:
    """From now on (at once, when it has already gone) this process ends when `parent_pid` is no longer its
    parent."""
    threading.Thread(target=_watch, args=(parent_pid,), name="exit-with-parent", daemon=True).start()

"""A flow that runs until a gate opens: tests mount this file and a gate directory into flow-run containers,
and hold the runs Running for exactly as long as they need (no sleep that a loaded machine could outlast)."""

import time
from pathlib import Path

from prefect import flow

GATE_BOUND_SECONDS = 900
"""A run whose test died with the gate shut ends by itself rather than hold its container forever."""
POLL_SECONDS = 0.5


@flow(name="gated")
def gated(gate: str) -> None:
    deadline = time.monotonic() + GATE_BOUND_SECONDS
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate} did not appear within {GATE_BOUND_SECONDS} s")
        time.sleep(POLL_SECONDS)

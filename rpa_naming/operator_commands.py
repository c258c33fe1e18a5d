"""The operator commands (package `operations`) as the messages that point to them spell them: `make status`
and the flows' runtime name them without importing them."""


def free_slots_command(limit: str, slots: int) -> str:
    """Gives back `slots` slots of a global concurrency limit that no lease holds."""
    return f"python -m operations.free_slots {limit} {slots}"


def cancel_stuck_run_command(flow_run_id: object) -> str:
    """Moves a flow run stuck in Cancelling to Cancelled, which gives back its deployment's slot."""
    return f"python -m operations.stuck_cancelling --cancel {flow_run_id}"

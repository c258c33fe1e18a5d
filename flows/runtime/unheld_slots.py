"""Slots a Prefect server counts that no lease holds, and what to tell whoever runs into them.

Prefect 3.9.1 counts a limit's slots in its database but keeps the leases on them in memory unless told
otherwise (`PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE`): a restart of such a server leaves every slot held at
that moment counted, with no lease left that could expire, so they never come back by themselves. A flow run
knows it for certain when the server forgets one of its own leases before that lease could have expired; a
flow run that holds none only sees the limit stay full with no slot taken or given back."""

from rpa_naming.operator_commands import free_slots_command

MEMORY_LEASES = "prefect.server.concurrency.lease_storage.memory"  # Prefect's default


def lost_leases(limit: str, slots: int) -> str:
    return (
        f"the Prefect server forgot this flow run's leases on {slots} slot(s) of {limit!r} before they "
        "could expire (it restarted, keeping its leases in memory): it still counts those slots, but no "
        f"lease holds them and nothing will give them back. Once no flow run uses {limit!r}, free them "
        f"with `{free_slots_command(limit, slots)}`"
    )


def full_and_untouched(limit: str, slots: int, seconds: float, lease_storage: str | None) -> str:
    if lease_storage == MEMORY_LEASES:
        cause = "this Prefect server keeps its leases in memory, so slots held when it last restarted"
    else:
        cause = (
            "if the Prefect server keeps its leases in memory (its default) and restarted, the slots held "
            "when it did"
        )
    return (
        f"{limit!r} has been full ({slots} of {slots}) with no slot taken or given back for {seconds:.0f} s: "
        f"{cause} stay counted with no lease holding them. If no flow run uses {limit!r}, free them with "
        f"`{free_slots_command(limit, slots)}`"
    )

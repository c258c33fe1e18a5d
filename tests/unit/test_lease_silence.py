"""The runtime's renewals and the lease storage's silence rule agree (flows/runtime/slot_pool.py and
local_prefect_server/lease_files.py are deployed apart, so nothing but this test ties them)."""

from flows.runtime.slot_pool import SlotPolicy
from local_prefect_server import lease_files


def test_the_runtime_assumes_the_silence_the_servers_allow() -> None:
    assert SlotPolicy().silence_seconds == lease_files.DEFAULT_SILENCE_SECONDS


def test_the_runtime_renews_often_enough_to_count_as_renewing_often() -> None:
    policy = SlotPolicy()
    # The storage calls a holder one that renews often when a renewal comes within a third of the silence.
    assert policy.renew_every_seconds <= lease_files.DEFAULT_SILENCE_SECONDS / 3
    assert policy.first_renew_seconds <= lease_files.DEFAULT_SILENCE_SECONDS / 3
    # Two renewals may fail before a lease could lapse.
    assert policy.lapses_after >= 3 * policy.renew_every_seconds

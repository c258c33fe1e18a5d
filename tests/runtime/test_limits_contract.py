"""What the runtime relies on from Prefect's global concurrency limits, held against both the in-memory API
(a manual clock) and a real Prefect 3.9.1 server: the runtime's deterministic tests are only as good as the
in-memory API's likeness. On the server, scenarios needing time wait a second or two of real time, and assert
only what holds however slow the server answers within that."""

import time
import uuid

import pytest

from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.limits_api import LimitsApiError
from tests.runtime.limits_under_test import LimitsUnderTest

LEASE = 60.0  # the server's shortest lease


def test_a_new_limit_reads_as_created(limits: LimitsUnderTest) -> None:
    name = limits.create(3, slot_decay_per_second=1.5)
    state = limits.api.read(name)
    assert (state.name, state.limit, state.active_slots, state.active) == (name, 3, 0, True)
    assert state.slot_decay_per_second == 1.5 and state.updated is not None


def test_ensuring_a_limit_creates_it_once_and_leaves_an_existing_one_as_it_is(
    limits: LimitsUnderTest,
) -> None:
    name = limits.create(3)
    limits.api.ensure_limit(name, 1000)
    assert limits.api.read(name).limit == 3
    missing = f"{name}-waiters"
    limits.api.ensure_limit(missing, 1000)
    limits.api.ensure_limit(missing, 1000)
    state = limits.api.read(missing)
    assert (state.limit, state.active_slots, state.active, state.slot_decay_per_second) == (
        1000,
        0,
        True,
        0.0,
    )


def test_a_missing_limit_cannot_be_read(limits: LimitsUnderTest) -> None:
    with pytest.raises(MissingConcurrencyLimitError):
        limits.api.read(f"missing-{uuid.uuid4().hex[:8]}")


def test_leases_until_full_then_denied(limits: LimitsUnderTest) -> None:
    name = limits.create(3)
    assert limits.api.lease_slots(name, 2, LEASE) is not None
    assert limits.api.lease_slots(name, 2, LEASE) is None  # 2 + 2 > 3: nothing taken
    assert limits.api.lease_slots(name, 1, LEASE) is not None
    assert limits.api.lease_slots(name, 1, LEASE) is None
    assert limits.api.read(name).active_slots == 3


def test_a_release_frees_its_slots_once(limits: LimitsUnderTest) -> None:
    name = limits.create(3)
    first = limits.api.lease_slots(name, 2, LEASE)
    second = limits.api.lease_slots(name, 1, LEASE)
    assert first is not None and second is not None
    limits.api.release(first)
    assert limits.api.read(name).active_slots == 1
    limits.api.release(first)  # released twice: the second time frees nothing (and is no error)
    assert limits.api.read(name).active_slots == 1
    assert limits.api.lease_slots(name, 2, LEASE) is not None


def test_a_renewed_lease_keeps_its_slots_and_a_released_one_cannot_be_renewed(
    limits: LimitsUnderTest,
) -> None:
    name = limits.create(1)
    lease = limits.api.lease_slots(name, 1, LEASE)
    assert lease is not None
    assert limits.api.renew(lease, LEASE)
    assert limits.api.read(name).active_slots == 1
    limits.api.release(lease)
    assert not limits.api.renew(lease, LEASE)
    assert not limits.api.renew(uuid.uuid4(), LEASE)


def test_requests_the_server_refuses_as_invalid(limits: LimitsUnderTest) -> None:
    name = limits.create(2)
    concurrency_only = limits.create(2)
    with pytest.raises(LimitsApiError) as too_many:
        limits.api.lease_slots(name, 3, LEASE)
    with pytest.raises(LimitsApiError) as too_short:
        limits.api.lease_slots(name, 1, LEASE - 1)
    with pytest.raises(LimitsApiError) as not_a_rate:
        limits.api.take_rate_tokens(concurrency_only, 1)
    assert too_many.value.status_code == too_short.value.status_code == not_a_rate.value.status_code == 422
    assert limits.api.read(name).active_slots == 0


def test_a_deleted_limit_cannot_be_read_yet_requests_naming_it_are_granted(limits: LimitsUnderTest) -> None:
    # Why the runtime reads a limit before it leases: the server grants what names no limit, counting nothing.
    name = limits.create(1, slot_decay_per_second=0.0)
    held = limits.api.lease_slots(name, 1, LEASE)
    assert held is not None
    limits.delete(name)
    with pytest.raises(MissingConcurrencyLimitError):
        limits.api.read(name)
    assert limits.api.lease_slots(name, 1, LEASE) is not None
    assert limits.api.take_rate_tokens(name, 1)
    assert limits.api.renew(held, LEASE)  # the lease outlives its limit
    limits.create(1, name=name)
    assert limits.api.lease_slots(name, 1, LEASE) is not None
    limits.api.release(held)  # counts against the old limit alone: frees nothing of the new one
    assert limits.api.read(name).active_slots == 1


def test_an_inactive_limit_grants_everything_and_counts_nothing(limits: LimitsUnderTest) -> None:
    name = limits.create(1, active=False)
    assert limits.api.lease_slots(name, 1, LEASE) is not None
    assert limits.api.lease_slots(name, 5, LEASE) is not None  # not even the size is checked
    state = limits.api.read(name)
    assert (state.active, state.active_slots) == (False, 0)


def test_rate_tokens_fill_the_bucket_which_drains_by_whole_slots(limits: LimitsUnderTest) -> None:
    # A slot drains every 2 s: the denial right after the fill holds however slowly a loaded server answers.
    name = limits.create(3, slot_decay_per_second=0.5)
    assert limits.api.take_rate_tokens(name, 3)
    assert not limits.api.take_rate_tokens(name, 1)
    limits.wait(2.2)  # at least one whole slot drained
    assert limits.api.take_rate_tokens(name, 1)
    assert limits.api.read(name).active_slots <= 3


def test_a_denial_writes_nothing_and_a_grant_restarts_the_decay(limits: LimitsUnderTest) -> None:
    slot = 4.0  # seconds per drained slot: slow enough that a loaded server's delays stay well within one
    name = limits.create(2, slot_decay_per_second=1 / slot)
    assert limits.api.take_rate_tokens(name, 2)
    filled = limits.api.read(name)
    limits.wait(0.125 * slot)
    assert not limits.api.take_rate_tokens(name, 1)
    assert limits.api.read(name).updated == filled.updated  # the denial wrote nothing
    limits.wait(1.375 * slot)  # 1.5 slots' worth since the fill: one whole slot drained
    written_at = time.monotonic()
    assert limits.api.take_rate_tokens(name, 1)
    written = limits.api.read(name)
    assert filled.updated is not None and written.updated is not None
    since_fill = (written.updated - filled.updated).total_seconds()
    assert since_fill >= 1.5 * slot - 0.01  # the write moved `updated` (the server stores milliseconds)
    stored = max(0, 2 - int(since_fill / slot)) + 1  # decayed count + the token, as of the write
    limits.wait(0.6 * slot)
    later = limits.api.read(name)
    if time.monotonic() - written_at >= slot:  # only on a server too slow for the scenario
        pytest.skip("the read came a whole slot after the write: the decay is no longer told apart")
    # Had decay run on from the fill (not restarted), at least 2.1 slots' worth would be gone by now.
    assert later.active_slots == stored


def test_changing_a_limit_restarts_the_decay_without_counting_what_drained(limits: LimitsUnderTest) -> None:
    name = limits.create(2, slot_decay_per_second=1.0)
    assert limits.api.take_rate_tokens(name, 2)
    limits.wait(1.2)
    drained_by_then = limits.api.read(name).active_slots
    limits.update(name, limit=3)
    changed_at = time.monotonic()
    after = limits.api.read(name)
    if time.monotonic() - changed_at >= 1.0:
        pytest.skip("the read came a whole slot after the change")
    assert drained_by_then <= 1 and after.active_slots == 2  # the slot that had drained counts again

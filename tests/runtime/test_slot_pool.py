"""SlotPool's rare paths, deterministic: its manager thread and the tasks wait on a manual clock over the
in-memory limits API, so minutes of leases, renewals and rotations replay in milliseconds."""

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Iterator
from uuid import UUID

import httpx
import pytest

from flows.runtime.deadline import Deadline
from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.limits_api import LimitState, ServerBusy
from flows.runtime.slot_pool import SlotPolicy, SlotPool
from flows.runtime.unheld_slots import MEMORY_LEASES, lost_leases
from tests.runtime.runtime_harness import FlakyLimitsApi, Task, Worker, new_pool, with_manager
from tests.support.manual_clock import ManualClock
from tests.support.memory_limits_api import MemoryLimitsApi


@pytest.fixture(autouse=True)
def same_jitter_every_run() -> None:
    random.seed(11)  # tenure and polling are jittered: the same each run


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> FlakyLimitsApi:
    api = FlakyLimitsApi(clock)
    api.create_limit("erp-api", 4)
    return api


@pytest.fixture
def pools() -> Iterator[list[SlotPool]]:
    opened: list[SlotPool] = []
    yield opened
    for pool in opened:
        pool.close(drain_seconds=1.0)


def started(*tasks: Task) -> list[Task]:
    for task in tasks:
        task.start()
    return list(tasks)


def test_tasks_get_slots_and_idle_blocks_go_back(clock: ManualClock, api: MemoryLimitsApi, pools) -> None:
    pool, manager = with_manager(lambda: new_pool("erp-api", api, clock))
    pools.append(pool)
    tasks = started(Task(pool, clock), Task(pool, clock), Task(pool, clock))
    threads = [manager, *tasks]
    clock.run_for(2.0, threads)
    assert all(task.holding for task in tasks)
    assert api.read("erp-api").active_slots >= 3
    for task in tasks:
        task.finish()
    clock.run_for(1.0, threads)
    assert api.read("erp-api").active_slots == 0 and api.active_leases() == 0


def test_hand_backs_within_a_linger_wake_the_manager_once_and_the_idle_block_still_goes_back(
    clock: ManualClock, api: MemoryLimitsApi, pools
) -> None:
    """Waking the manager at every hand-back made ten threads fight its thread for the pool's lock (5-18 us
    a slot instead of 3-4): a hand-back wakes it only when it would sleep past the idle block's linger."""
    policy = SlotPolicy()
    pool, manager = with_manager(lambda: new_pool("erp-api", api, clock, policy))
    pools.append(pool)
    holder = started(Task(pool, clock))
    clock.run_for(1.0, [manager, *holder])
    assert holder[0].holding and api.read("erp-api").active_slots == 1
    before = clock.notified_waits(manager)
    deadline = Deadline.after(60.0, clock)
    holder[0].finish()  # the first hand-back: the manager sleeps until its next read, past the linger
    clock.settle([manager, *holder])
    for _ in range(100):  # each leaves the block idle again, at the same instant
        with pool.slot(deadline):
            pass
    clock.settle([manager])
    assert clock.notified_waits(manager) - before == 1
    clock.run_for(policy.linger_seconds * 1.5, [manager])  # well before its next read (watch_every_seconds)
    assert api.read("erp-api").active_slots == 0 and api.active_leases() == 0


def test_a_slot_whose_lease_renewals_keep_failing_is_not_handed_out_again(
    clock: ManualClock, api: FlakyLimitsApi, pools
) -> None:
    policy = SlotPolicy()  # renewed every 4 s, may lapse 12 s after: no slot comes from a lease 8 s unrenewed
    pool, manager = with_manager(lambda: new_pool("erp-api", api, clock, policy))
    pools.append(pool)
    first = started(Task(pool, clock))
    clock.run_for(1.0, [manager, *first])
    assert first[0].holding and api.granted == 1
    api.renewals_fail = True
    clock.run_for(policy.lease_seconds - policy.renew_every_seconds + 0.5, [manager, *first])
    first[0].finish()
    clock.settle([manager, *first])
    # The next task comes at once: the slot is free, but its lease may be gone before the next renewal.
    second = started(Task(pool, clock))
    clock.run_for(2.0, [manager, *second])
    assert second[0].holding and api.granted == 2, "the slot came from a new lease"
    api.renewals_fail = False
    second[0].finish()
    clock.run_for(1.0, [manager, *second])
    assert api.read("erp-api").active_slots == 0 and api.active_leases() == 0


def test_a_limit_deleted_under_waiting_tasks_fails_them(
    clock: ManualClock, api: MemoryLimitsApi, pools
) -> None:
    api.create_limit("db-write", 1)
    pool, manager = with_manager(lambda: new_pool("db-write", api, clock))
    pools.append(pool)
    tasks = started(Task(pool, clock), Task(pool, clock), Task(pool, clock))
    threads = [manager, *tasks]
    clock.run_for(1.0, threads)
    holding = [task for task in tasks if task.holding]
    assert len(holding) == 1
    holder, waiting = holding[0], [task for task in tasks if task is not holding[0]]
    api.delete_limit("db-write")
    clock.run_for(2.0, threads)
    assert all(isinstance(task.error, MissingConcurrencyLimitError) for task in waiting)
    assert holder.holding  # a slot in use cannot be recalled: it goes back when its task is done
    holder.finish()
    clock.run_for(1.0, threads)
    assert holder.error is None


def test_three_flow_runs_on_one_full_limit_each_get_slots_in_turn(
    clock: ManualClock, api: MemoryLimitsApi, pools
) -> None:
    api.create_limit("shared", 2)
    runs, pool_managers = zip(
        *(with_manager(lambda: new_pool("shared", api, clock)) for _ in range(3)), strict=True
    )
    pools.extend(runs)
    workers = [Worker(pool, clock, work_seconds=0.3) for pool in runs for _ in range(2)]
    for worker in workers:
        worker.start()
    clock.run_for(30.0, [*pool_managers, *workers])
    done_per_run = [sum(w.done for w in workers[i * 2 : i * 2 + 2]) for i in range(3)]
    for worker in workers:
        worker.stop()
    clock.run_for(2.0, [*pool_managers, *workers])
    assert all(w.error is None for w in workers)
    # 2 slots x 30 s / 0.3 s is at most 200 tasks; each flow run must have had a fair part of them.
    assert min(done_per_run) >= 20, done_per_run
    assert api.read("shared").active_slots == 0


class CountingLimitsApi(MemoryLimitsApi):
    """Counts the slots given back per limit, and samples what each lease holds."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.limit_of: dict[UUID, str] = {}
        self.given_back: Counter[str] = Counter()

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        lease_id = super().lease_slots(name, slots, lease_seconds)
        if lease_id is not None:
            self.limit_of[lease_id] = name
        return lease_id

    def release(self, lease_id: UUID) -> None:
        super().release(lease_id)
        self.given_back[self.limit_of[lease_id]] += 1


def held_by(pool: SlotPool) -> int:
    return sum(block.size for block in pool._blocks)


def test_a_flow_run_alone_on_a_full_limit_never_rotates(clock: ManualClock, pools) -> None:
    api = CountingLimitsApi(clock)
    api.create_limit("solo", 4)
    pool, manager = with_manager(lambda: new_pool("solo", api, clock))
    pools.append(pool)
    workers = [Worker(pool, clock, work_seconds=0.3) for _ in range(8)]  # twice the limit: tasks always wait
    for worker in workers:
        worker.start()
    clock.run_for(5.0, [manager, *workers])
    given_back = api.given_back["solo"]
    clock.run_for(30.0, [manager, *workers])
    # Nobody else waits: holding the limit through tenure after tenure, it gives nothing back for them.
    assert api.given_back["solo"] == given_back, "rotated with nobody waiting"
    for worker in workers:
        worker.stop()
    clock.run_for(2.0, [manager, *workers])
    assert all(w.error is None for w in workers)


def test_two_hungry_flow_runs_settle_at_fair_shares_without_mass_hand_back(clock: ManualClock, pools) -> None:
    api = CountingLimitsApi(clock)
    api.create_limit("pair", 10)
    first, first_manager = with_manager(lambda: new_pool("pair", api, clock))
    pools.append(first)
    early = [Worker(first, clock, work_seconds=0.5) for _ in range(10)]
    for worker in early:
        worker.start()
    clock.run_for(5.0, [first_manager, *early])
    assert held_by(first) == 10  # alone, it took the whole limit
    second, second_manager = with_manager(lambda: new_pool("pair", api, clock))
    pools.append(second)
    late = [Worker(second, clock, work_seconds=0.5) for _ in range(10)]
    for worker in late:
        worker.start()
    threads = [first_manager, second_manager, *early, *late]
    lowest_held_by_first = 10
    for _ in range(100):  # 20 s, sampled every 0.2 s
        clock.run_for(0.2, threads)
        lowest_held_by_first = min(lowest_held_by_first, held_by(first))
    # The first gave the second its share, a block at a time: never below a slot under half the limit.
    assert lowest_held_by_first >= 4, lowest_held_by_first
    assert held_by(second) >= 4
    # Then, fair shares held, slots stop going round: no hand-over, no hole.
    given_back = api.given_back["pair"]
    clock.run_for(20.0, threads)
    assert api.given_back["pair"] == given_back, "slots still rotate between runs holding fair shares"
    for worker in [*early, *late]:
        worker.stop()
    clock.run_for(2.0, threads)
    assert all(w.error is None for w in [*early, *late])
    assert api.read("pair").active_slots == 0
    assert api.read("pair-waiters").active_slots == 0, "served runs wait no more"


def test_a_run_arriving_after_two_satisfied_holders_gets_its_share(clock: ManualClock, pools) -> None:
    """Two runs hold half of the limit each and want no more; a third then waits. Counted as waiting only,
    it would see each of them at its fair share of two (5 of 10) and never get a slot."""
    api = CountingLimitsApi(clock)
    api.create_limit("trio", 10)
    holders = [with_manager(lambda: new_pool("trio", api, clock)) for _ in range(2)]
    pools.extend(pool for pool, _ in holders)
    workers = [Worker(pool, clock, work_seconds=0.5) for pool, _ in holders for _ in range(5)]
    for worker in workers:
        worker.start()
    threads = [*(manager for _, manager in holders), *workers]
    clock.run_for(5.0, threads)
    assert [held_by(pool) for pool, _ in holders] == [5, 5]
    late, late_manager = with_manager(lambda: new_pool("trio", api, clock))
    pools.append(late)
    late_workers = [Worker(late, clock, work_seconds=0.5) for _ in range(5)]
    for worker in late_workers:
        worker.start()
    threads += [late_manager, *late_workers]
    clock.run_for(20.0, threads)
    assert held_by(late) >= 3, [held_by(pool) for pool in pools]
    assert sum(w.done for w in late_workers) >= 60  # 3 slots x 20 s / 0.5 s is 120
    for worker in [*workers, *late_workers]:
        worker.stop()
    clock.run_for(2.0, threads)
    assert all(w.error is None for w in [*workers, *late_workers])


def test_a_flow_run_alone_takes_what_it_needs_a_pace_after_its_first_slots(clock: ManualClock, pools) -> None:
    """No ramp of halves (5, 3, 1, 1 over four paces): whoever started with it had a pace to show up."""
    api = CountingLimitsApi(clock)
    api.create_limit("solo", 10)
    policy = SlotPolicy()
    pool, manager = with_manager(lambda: new_pool("solo", api, clock, policy))
    pools.append(pool)
    pool.warm(10, wait=True)
    assert held_by(pool) == 5  # half: a run starting at the same moment finds the other half
    workers = [Worker(pool, clock, work_seconds=0.5) for _ in range(10)]
    for worker in workers:
        worker.start()
    clock.run_for(policy.pace_seconds + 0.01, [manager, *workers])
    assert held_by(pool) == 10
    for worker in workers:
        worker.stop()
    clock.run_for(2.0, [manager, *workers])
    assert all(w.error is None for w in workers)


class SlowLeases(MemoryLimitsApi):
    """Answers a lease request after `seconds` of real time, as a busy server does."""

    seconds = 0.3

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        time.sleep(self.seconds)
        return super().lease_slots(name, slots, lease_seconds)


def test_warming_can_wait_for_the_first_slots(clock: ManualClock, pools) -> None:
    """A flow run's task submissions flood the server with writes: its first slots are asked for before."""
    api = SlowLeases(clock)
    api.create_limit("erp-api", 4)
    pool = new_pool("erp-api", api, clock)
    pools.append(pool)
    pool.warm(4)
    assert api.read("erp-api").active_slots == 0  # asked for, not answered yet
    other = new_pool("erp-api", api, clock)
    pools.append(other)
    other.warm(4, wait=True)
    assert held_by(other) == 2  # half of the limit: answered


def test_a_run_short_of_its_share_gets_it_before_the_holders_tenure_is_up(clock: ManualClock, pools) -> None:
    """Tenure spaces out rotations among runs at their fair shares; a run short of its own does not wait for
    it: that hand-over happens once."""
    api = CountingLimitsApi(clock)
    api.create_limit("pair", 10)
    policy = SlotPolicy(tenure_seconds=10.0)  # nothing rotates for 7.5 s at least
    first, first_manager = with_manager(lambda: new_pool("pair", api, clock, policy))
    pools.append(first)
    early = [Worker(first, clock, work_seconds=0.5) for _ in range(10)]
    for worker in early:
        worker.start()
    clock.run_for(1.0, [first_manager, *early])
    assert held_by(first) == 10
    second, second_manager = with_manager(lambda: new_pool("pair", api, clock, policy))
    pools.append(second)
    late = [Worker(second, clock, work_seconds=0.5) for _ in range(10)]
    for worker in late:
        worker.start()
    threads = [first_manager, second_manager, *early, *late]
    clock.run_for(3.0, threads)
    assert held_by(second) >= 4 and held_by(first) >= 4, [held_by(first), held_by(second)]
    for worker in [*early, *late]:
        worker.stop()
    clock.run_for(2.0, threads)
    assert all(w.error is None for w in [*early, *late])


class BusyOnce(MemoryLimitsApi):
    """The first request to count a run as waiting fails as a SQLite server's does when locked past retries."""

    busy = True

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        if self.busy and name.endswith("-waiters") and slots >= SlotPolicy().waiting_weight:
            self.busy = False
            request = httpx.Request("POST", "http://127.0.0.1/api/v2/concurrency_limits/increment-with-lease")
            raise ServerBusy(httpx.Response(503, request=request, text="database is locked"))
        return super().lease_slots(name, slots, lease_seconds)


def test_a_busy_server_does_not_stop_a_run_from_being_counted_as_waiting(clock: ManualClock, pools) -> None:
    api = BusyOnce(clock)
    api.create_limit("one", 1)
    holder, holder_manager = with_manager(lambda: new_pool("one", api, clock))
    waiter, waiter_manager = with_manager(lambda: new_pool("one", api, clock))
    pools.extend([holder, waiter])
    held = started(Task(holder, clock))
    clock.run_for(1.0, [holder_manager, *held])
    waiting = started(Task(waiter, clock))
    clock.run_for(3.0, [holder_manager, waiter_manager, *held, *waiting])
    assert not api.busy and api.read("one-waiters").active_slots >= SlotPolicy().waiting_weight
    held[0].finish()
    clock.run_for(3.0, [holder_manager, waiter_manager, *held, *waiting])
    assert waiting[0].holding
    waiting[0].finish()
    clock.run_for(1.0, [holder_manager, waiter_manager, *held, *waiting])


class WrittenBetweenReads(MemoryLimitsApi):
    """A limit shared by busy flow runs: some slot was taken or given back between any two reads."""

    def read(self, name: str) -> LimitState:
        return dataclasses.replace(super().read(name), updated=self.clock.now())


def test_slots_left_over_on_a_busy_limit_go_to_a_holder_that_wants_more(clock: ManualClock, pools) -> None:
    """Counted from the limit's last write, free slots were never left over on a limit busy runs share: the
    run wanting more held on to its share while slots sat free (a load proof at 0.79 of the rate)."""
    api = WrittenBetweenReads(clock)
    api.create_limit("pair", 10)
    hungry, hungry_manager = with_manager(lambda: new_pool("pair", api, clock))
    other, other_manager = with_manager(lambda: new_pool("pair", api, clock))
    pools.extend([hungry, other])
    hungry_workers = [Worker(hungry, clock, work_seconds=0.5) for _ in range(8)]
    other_workers = [Worker(other, clock, work_seconds=0.5) for _ in range(5)]
    for worker in [*hungry_workers, *other_workers]:
        worker.start()
    threads = [hungry_manager, other_manager, *hungry_workers, *other_workers]
    clock.run_for(10.0, threads)
    assert api.read("pair").free_slots == 0
    for worker in other_workers[2:]:
        worker.stop()
    # Within the contention window (5 s since the limit was last full: others may still wait for it): each
    # slot left over is taken a leftover wait (0.3 s) and a pace (0.2 s) after it was first seen free.
    clock.run_for(3.5, threads)
    assert held_by(hungry) == 8, [held_by(hungry), held_by(other)]
    for worker in [*hungry_workers, *other_workers]:
        worker.stop()
    clock.run_for(2.0, threads)
    assert all(w.error is None for w in [*hungry_workers, *other_workers])


class BusyReleasingTheCount(MemoryLimitsApi):
    """The first release of a lease on a waiters limit fails as a SQLite server's does when locked."""

    busy = True

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.waiters_leases: set[UUID] = set()

    def lease_slots(self, name: str, slots: int, lease_seconds: float) -> UUID | None:
        lease_id = super().lease_slots(name, slots, lease_seconds)
        if lease_id is not None and name.endswith("-waiters"):
            self.waiters_leases.add(lease_id)
        return lease_id

    def release(self, lease_id: UUID) -> None:
        if self.busy and lease_id in self.waiters_leases:
            self.busy = False
            request = httpx.Request("POST", "http://127.0.0.1/api/v2/concurrency_limits/leases/release")
            raise ServerBusy(httpx.Response(503, request=request, text="database is locked"))
        super().release(lease_id)


def test_a_count_the_server_was_too_busy_to_release_is_released_later(clock: ManualClock, pools) -> None:
    """A run counted as holding that then waits replaces its count: dropped when its release failed, the old
    count stayed on the server until its lease lapsed, one run counted twice."""
    api = BusyReleasingTheCount(clock)
    api.create_limit("one", 1)
    pool, manager = with_manager(lambda: new_pool("one", api, clock))
    pools.append(pool)
    first = started(Task(pool, clock))
    clock.run_for(2.0, [manager, *first])
    assert api.read("one-waiters").active_slots == 1  # holding the full limit
    second = started(Task(pool, clock))  # now it waits too
    clock.run_for(3.0, [manager, *first, *second])
    assert not api.busy
    assert api.read("one-waiters").active_slots == SlotPolicy().waiting_weight
    for task in [*first, *second]:
        task.finish()
    clock.run_for(2.0, [manager, *first, *second])


def test_slots_a_run_gives_back_when_nobody_waits_go_at_once_to_the_holder_that_wants_more(
    clock: ManualClock, pools
) -> None:
    """Another run holds five slots of ten and is counted as holding; this one holds the other five and wants
    ten. When the other gives three back and nobody waits, this run takes all three at its next read: slots
    left over wait first for runs holding none, one slot a pace, only when some are counted waiting. Two runs
    on a limit of 10 lost 3-5% of their time so, at the end of one of them."""
    api = CountingLimitsApi(clock)
    api.create_limit("pair", 10)
    api.create_limit("pair-waiters", SlotPolicy().waiters_limit)
    others = [api.lease_slots("pair", 1, 60.0) for _ in range(5)]
    api.lease_slots("pair-waiters", 1, 60.0)  # the other run, counted as holding slots of the full limit
    hungry, manager = with_manager(lambda: new_pool("pair", api, clock))
    pools.append(hungry)
    workers = [Worker(hungry, clock, work_seconds=0.5) for _ in range(10)]
    for worker in workers:
        worker.start()
    threads = [manager, *workers]
    clock.run_for(5.0, threads)
    assert held_by(hungry) == 5
    for lease_id in others[:3]:
        api.release(lease_id)
    # A read within the slow poll (0.5 s, jittered up to 0.6 s), its leases a moment later.
    clock.run_for(0.65, threads)
    assert held_by(hungry) == 8, held_by(hungry)
    for worker in workers:
        worker.stop()
    clock.run_for(2.0, threads)
    assert all(w.error is None for w in workers)


@pytest.mark.parametrize(("storage", "reported"), [(MEMORY_LEASES, True), (None, False)])
def test_leases_a_restart_made_the_server_forget_are_reported_however_late_it_answers(
    clock: ManualClock, api: FlakyLimitsApi, pools, storage: str | None, reported: bool
) -> None:
    """A server keeping its leases in memory holds each one its whole lease (60 s): one it calls gone
    sooner was forgotten by a restart, and its slots are still counted, even when the restart kept
    renewals from getting through for longer than a lease of the project's own servers may go unrenewed
    (12 s). A server that does not say how it keeps leases may have let them lapse: nothing is reported."""
    api.lease_storage_name = storage
    pool, manager = with_manager(lambda: new_pool("erp-api", api, clock))
    pools.append(pool)
    tasks = started(Task(pool, clock), Task(pool, clock))
    threads = [manager, *tasks]
    clock.run_for(2.0, threads)
    assert all(task.holding for task in tasks)

    api.renewals_fail = True  # the server restarting
    clock.run_for(10.0, threads)
    api.forget_leases()
    api.renewals_fail = False
    clock.run_for(5.0, threads)

    expected = lost_leases("erp-api", 2) if reported else None
    assert pool.why_no_slot(Deadline.after(60.0, clock)) == expected
    assert api.read("erp-api").active_slots == 2  # counted still: only `free_slots` gives them back
    for task in tasks:
        task.finish()
    clock.run_for(1.0, threads)

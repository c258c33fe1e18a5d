"""SlotPool's rare paths, deterministic: its manager thread and the tasks wait on a manual clock over the
in-memory limits API, so minutes of leases, renewals and rotations replay in milliseconds."""

import logging
import random
from collections import Counter
from collections.abc import Iterator
from uuid import UUID

import pytest

from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.memory_limits_api import MemoryLimitsApi
from flows.runtime.slot_pool import SlotPolicy, SlotPool
from tests.runtime.runtime_harness import FlakyLimitsApi, Task, Worker, new_pool, with_manager
from tests.support.manual_clock import ManualClock


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


def test_a_block_whose_renewals_keep_failing_hands_out_no_more_slots(
    clock: ManualClock, api: FlakyLimitsApi, pools, caplog: pytest.LogCaptureFixture
) -> None:
    policy = SlotPolicy()  # renewed every 4 s, may lapse 12 s after: no slot comes from a lease 8 s unrenewed
    pool, manager = with_manager(lambda: new_pool("erp-api", api, clock, policy))
    pools.append(pool)
    pool.warm(2)
    clock.settle([manager])
    first = started(Task(pool, clock))
    clock.settle([manager, *first])
    assert first[0].holding and api.active_leases() == 1  # one block of two, one slot of it used
    api.renewals_fail = True
    clock.run_for(policy.lease_seconds - policy.renew_every_seconds + 0.5, [manager, *first])
    second = started(Task(pool, clock))
    clock.run_for(2.0, [manager, *first, *second])
    # The old block had room, but its lease may be gone before the next renewal: the slot came from another.
    assert second[0].holding and api.active_leases() == 2
    caplog.set_level(logging.WARNING, logger="flows.runtime.slot_pool")
    clock.run_for(policy.renew_every_seconds, [manager, *first, *second])
    api.renewals_fail = False
    clock.run_for(policy.renew_retry_seconds * 2, [manager, *first, *second])
    assert "lapsed before renewal" in caplog.text  # the old lease expired: the pool knows it holds nothing
    first[0].finish()
    second[0].finish()
    clock.run_for(1.0, [manager, *first, *second])
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

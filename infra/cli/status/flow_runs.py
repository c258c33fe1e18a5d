"""The flow-run queries behind a stack's status, with Prefect's own filters, every page of them read: the
server returns at most a page per request (200 by default), and a count that stops at a page would hide
exactly the pile-ups this view is for."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

from infra.cli.status.model import ErrorRate

Item = TypeVar("Item")

PAGE = 200  # PREFECT_SERVER_API_DEFAULT_LIMIT's default, the most one request may ask for
# The states of a run whose process may live and hold concurrency slots: Paused runs keep theirs in process.
ACTIVE = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED]
FINAL = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]


def every_page(read: Callable[[int, int], list[Item]]) -> list[Item]:
    """What `read(offset, limit)` returns, page after page, until a page comes back short."""
    items: list[Item] = []
    while page := read(len(items), PAGE):
        items += page
        if len(page) < PAGE:
            break
    return items


def of_states(*types: StateType) -> FlowRunFilterState:
    return FlowRunFilterState(type=FlowRunFilterStateType(any_=list(types)))


def in_pools(pools: list[str]) -> WorkPoolFilter:
    return WorkPoolFilter(name=WorkPoolFilterName(any_=pools))


def active_runs(client: SyncPrefectClient, pools: list[str]) -> list[FlowRun]:
    """Runs that may hold the stack's slots: those of its pools, and those of no pool (a flow started by hand
    finds its stack's limits by RPA_STACK). Read server-wide, since a filter on pools drops runs of none."""
    runs = every_page(
        lambda offset, limit: client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=of_states(*ACTIVE)), offset=offset, limit=limit
        )
    )
    return [run for run in runs if run.work_pool_name is None or run.work_pool_name in pools]


def ended_since(client: SyncPrefectClient, pools: list[str], since: datetime) -> list[FlowRun]:
    """Runs of the stack's pools, or of no pool, that ended after `since` (as `active_runs`)."""
    ended = FlowRunFilter(end_time=ended_after(since))
    runs = every_page(
        lambda offset, limit: client.read_flow_runs(flow_run_filter=ended, offset=offset, limit=limit)
    )
    return [run for run in runs if run.work_pool_name is None or run.work_pool_name in pools]


def late_runs(client: SyncPrefectClient, pools: list[str]) -> list[FlowRun]:
    late = FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]), name=FlowRunFilterStateName(any_=["Late"])
    )
    return every_page(
        lambda offset, limit: client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=late),
            work_pool_filter=in_pools(pools),
            offset=offset,
            limit=limit,
        )
    )


def recent_runs(client: SyncPrefectClient, pools: list[str], count: int) -> list[FlowRun]:
    """The last `count` runs of the stack's pools to have started (scheduled ones have not: they would fill
    the list with the future)."""
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False)),
        work_pool_filter=in_pools(pools),
        sort=FlowRunSort.START_TIME_DESC,
        limit=count,
    )


def error_rate(client: SyncPrefectClient, pools: list[str], now: datetime, minutes: float) -> ErrorRate:
    ended = ended_after(now - timedelta(minutes=minutes))

    def count(*types: StateType) -> int:
        return client.count_flow_runs(
            flow_run_filter=FlowRunFilter(end_time=ended, state=of_states(*types)),
            work_pool_filter=in_pools(pools),
        )

    return ErrorRate(
        window_minutes=minutes,
        finished=count(*FINAL),
        failed=count(StateType.FAILED),
        crashed=count(StateType.CRASHED),
    )


def ended_after(moment: datetime) -> FlowRunFilterEndTime:
    """Runs that ended after `moment`. (Validated from a mapping: Prefect types `after_` as its own DateTime,
    pendulum's on Python 3.11, and converts a stdlib datetime into one only when it validates.)"""
    return FlowRunFilterEndTime.model_validate({"after_": moment})

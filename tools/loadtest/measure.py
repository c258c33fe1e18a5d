"""From what the ERP saw, the items the runs did and how they ended, to the load's figures."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rpa_naming import ERP_API, ERP_API_RATE, concurrency_limit_name
from tools.demo_erp.stats import ErpStats
from tools.demo_erp.timeline import ErpTimeline
from tools.loadtest.result import ErpTraffic, ItemCounts, LimitObservation, StackLimits, Throughput

IDLE_STRETCH_SECONDS = 1.0


@dataclass(frozen=True)
class Measured:
    items: ItemCounts
    erp: ErpTraffic
    throughput: Throughput
    observed: list[LimitObservation]


def reconciled_items(database_path: Path) -> int:
    """Rows rpa3 wrote to the load's own results database (absent when no run got that far)."""
    if not database_path.exists():
        return 0
    with sqlite3.connect(database_path) as connection:
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'reconciliations'"
        ).fetchall()
        if not tables:
            return 0
        return int(connection.execute("SELECT count(*) FROM reconciliations").fetchone()[0])


def observe_limits(stack: str, limits: StackLimits, stats: ErpStats) -> list[LimitObservation]:
    # Over any 1 s a rate limit admits its burst plus one second of decay: the token bucket's contract.
    rate_allowed = limits.erp_api_rate + limits.erp_api_rate_per_second
    return [
        LimitObservation(
            limit=concurrency_limit_name(stack, ERP_API),
            kind="concurrency",
            allowed=limits.erp_api,
            allowance=f"limit {limits.erp_api}",
            highest_observed=stats.highest_concurrency,
            within=stats.highest_concurrency <= limits.erp_api,
        ),
        LimitObservation(
            limit=concurrency_limit_name(stack, ERP_API_RATE),
            kind="rate",
            allowed=rate_allowed,
            allowance=f"burst {limits.erp_api_rate} + 1 s at {limits.erp_api_rate_per_second:g}/s",
            highest_observed=stats.highest_arrivals_per_second,
            within=stats.highest_arrivals_per_second <= rate_allowed,
        ),
    ]


def idle_seconds(timeline: ErpTimeline) -> float:
    """Stretches of at least IDLE_STRETCH_SECONDS of the timeline (first to last call) in which no call was in
    flight or arrived: runs starting or waiting for a slot, not the pauses between calls a rate makes."""
    idle = stretch = 0.0
    for bucket in [*timeline.buckets, None]:
        if bucket is not None and bucket.highest_concurrency == 0:
            stretch += timeline.bucket_seconds
            continue
        idle += stretch if stretch >= IDLE_STRETCH_SECONDS else 0.0
        stretch = 0.0
    return idle


def measure(
    stack: str,
    limits: StackLimits,
    planned: int,
    reconciled: int,
    counted_from: str,
    stats: ErpStats,
    timeline: ErpTimeline,
    wall_seconds: float,
) -> Measured:
    rejected = stats.rejected_for_concurrency + stats.rejected_for_rate
    failed = planned - reconciled
    busy = 0.0
    if stats.first_arrival is not None and stats.last_completion is not None:
        busy = max(stats.last_completion - stats.first_arrival, 0.0)
    return Measured(
        items=ItemCounts(
            planned=planned,
            reconciled=reconciled,
            counted_from=counted_from,
            failed=failed,
            error_rate=failed / planned,
        ),
        erp=ErpTraffic(
            arrivals=stats.arrivals,
            accepted=stats.accepted,
            rejected_for_concurrency=stats.rejected_for_concurrency,
            rejected_for_rate=stats.rejected_for_rate,
            share_429=rejected / stats.arrivals if stats.arrivals else 0.0,
            latency_p50_seconds=timeline.latency_p50_seconds,
            latency_p95_seconds=timeline.latency_p95_seconds,
        ),
        throughput=Throughput(
            items_per_second=reconciled / busy if busy else 0.0,
            busy_seconds=busy,
            wall_seconds=wall_seconds,
            wall_items_per_second=reconciled / wall_seconds if wall_seconds else 0.0,
            erp_idle_seconds=idle_seconds(timeline),
        ),
        observed=observe_limits(stack, limits, stats),
    )

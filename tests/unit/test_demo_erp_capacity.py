"""The demo ERP's queueing capacity: at most `capacity` requests served at once, the others wait in line in
order, and the capacity changes while requests are in it. Driven step by step on one event loop (each
`_settle()` lets every ready coroutine run), so nothing depends on how fast the machine is."""

import asyncio
from collections.abc import Coroutine
from typing import Any

import httpx

from tests.support.manual_clock import ManualClock
from tools.demo_erp.app import create_app
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.gatekeeper import Gatekeeper
from tools.demo_erp.service_line import ServiceLine


async def _settle() -> None:
    for _ in range(10):  # more rounds than any chain of wake-ups here needs
        await asyncio.sleep(0)


def run_on_own_loop(test: Coroutine[Any, Any, None]) -> None:
    """On a loop of its own, never installed as the thread's: asyncio.run() would leave the main thread with
    no event loop for good, and later tests that ask for one (Pulumi's mocks) would fail."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(test)
    finally:
        loop.close()


class _Customer:
    """One request in the line: it holds its place in service until told to leave."""

    def __init__(self, line: ServiceLine, name: str, served: list[str]) -> None:
        self.leave = asyncio.Event()
        self.task = asyncio.create_task(self._visit(line, name, served))

    async def _visit(self, line: ServiceLine, name: str, served: list[str]) -> None:
        async with line.served():
            served.append(name)
            await self.leave.wait()


def test_beyond_its_capacity_requests_wait_in_line_and_are_served_in_order() -> None:
    async def scenario() -> None:
        line, served = ServiceLine(capacity=2), list[str]()
        customers = {name: _Customer(line, name, served) for name in "abcd"}
        await _settle()
        assert served == ["a", "b"] and line.waiting == 2
        customers["b"].leave.set()
        await _settle()
        assert served == ["a", "b", "c"] and line.in_service == 2 and line.waiting == 1
        for customer in customers.values():
            customer.leave.set()
        await _settle()
        assert served == ["a", "b", "c", "d"] and line.in_service == 0 and line.waiting == 0

    run_on_own_loop(scenario())


def test_a_smaller_capacity_admits_nobody_until_fewer_are_served_and_a_larger_one_admits_at_once() -> None:
    async def scenario() -> None:
        line, served = ServiceLine(capacity=3), list[str]()
        first = [_Customer(line, name, served) for name in "abc"]
        await _settle()
        line.resize(1)  # three in service stay; none comes in until fewer than one remain
        later = [_Customer(line, name, served) for name in "de"]
        await _settle()
        first[0].leave.set()
        first[1].leave.set()
        await _settle()
        assert served == ["a", "b", "c"] and line.in_service == 1 and line.waiting == 2
        first[2].leave.set()
        await _settle()
        assert served == ["a", "b", "c", "d"] and line.waiting == 1
        line.resize(None)  # unlimited: the rest at once
        await _settle()
        assert served == ["a", "b", "c", "d", "e"] and line.in_service == 2
        for customer in later:
            customer.leave.set()
        await _settle()
        assert line.in_service == 0

    run_on_own_loop(scenario())


def test_a_request_that_gives_up_waiting_leaves_the_line_and_its_turn_passes_on() -> None:
    async def scenario() -> None:
        line, served = ServiceLine(capacity=1), list[str]()
        a, b, c = (_Customer(line, name, served) for name in "abc")
        await _settle()
        b.task.cancel()  # gone while waiting
        await _settle()
        assert line.waiting == 1
        a.leave.set()
        await _settle()
        assert served == ["a", "c"] and line.in_service == 1
        c.leave.set()
        await _settle()
        assert line.in_service == 0 and line.waiting == 0

    run_on_own_loop(scenario())


def test_the_wait_in_line_counts_in_the_erps_latency_and_timeline() -> None:
    async def scenario() -> None:
        clock = ManualClock()
        gatekeeper = Gatekeeper(ErpBehaviour(capacity=1), clock=clock)
        arrived = clock.monotonic()
        release = {name: asyncio.Event() for name in "ab"}

        async def request(name: str) -> None:
            assert gatekeeper.admit(name) is None  # admitted: no 429 below max_concurrency (unset)
            try:
                async with gatekeeper.served():
                    await release[name].wait()
            finally:
                gatekeeper.finish(arrived_at=arrived)

        tasks = [asyncio.create_task(request(name)) for name in "ab"]
        await _settle()
        clock.advance(0.1)  # a is served for 0.1 s while b waits
        release["a"].set()
        await _settle()
        clock.advance(0.1)
        release["b"].set()
        await asyncio.gather(*tasks)
        assert gatekeeper.stats.highest_waiting == 1
        assert gatekeeper.stats.highest_in_service == 1
        assert gatekeeper.stats.rejected_for_concurrency == 0
        timeline = gatekeeper.timeline.snapshot()
        assert max(bucket.highest_waiting for bucket in timeline.buckets) == 1
        assert max(bucket.highest_admitted for bucket in timeline.buckets) == 2
        assert timeline.latency_p95_seconds is not None
        assert round(timeline.latency_p95_seconds, 6) == 0.2  # b: 0.1 s in line, 0.1 s served

    run_on_own_loop(scenario())


def test_over_http_an_erp_at_capacity_answers_slower_instead_of_refusing() -> None:
    async def scenario() -> None:
        app = create_app(ErpBehaviour(latency_seconds=0.05, capacity=1))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://erp") as client:
            body = {"item_id": "Q-1", "amount_cents": 5}
            answers = await asyncio.gather(
                *(client.post("/api/reconciliations", json=body) for _ in range(4))
            )
            stats = (await client.get("/_admin/stats")).json()
        assert [answer.status_code for answer in answers] == [200] * 4
        assert stats["accepted"] == 4 and stats["highest_in_service"] == 1

    run_on_own_loop(scenario())

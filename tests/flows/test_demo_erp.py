"""The demo ERP's own protection and bookkeeping: what it refuses, what it answers and what it reports."""

import time

import httpx

from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.gatekeeper import Gatekeeper
from tools.demo_erp.meters import ConcurrencyGauge
from tools.demo_erp.timeline import TimelineRecorder


def test_beyond_its_concurrency_it_answers_429_with_retry_after():
    gatekeeper = Gatekeeper(ErpBehaviour(max_concurrency=1, retry_after_seconds=2))
    assert gatekeeper.admit("a") is None
    rejection = gatekeeper.admit("b")
    assert rejection is not None and (rejection.status, rejection.retry_after_seconds) == (429, 2)
    gatekeeper.finish()
    assert gatekeeper.admit("c") is None
    assert gatekeeper.stats.highest_concurrency == 2  # the refused arrival counts: demand is what it measures
    assert gatekeeper.stats.rejected_for_concurrency == 1


def test_beyond_its_rate_it_answers_429_and_spots_early_retries():
    gatekeeper = Gatekeeper(ErpBehaviour(rate_per_second=0.5, rate_burst=2, retry_after_seconds=3))
    for key in ("a", "b"):
        assert gatekeeper.admit(key) is None
        gatekeeper.finish()
    assert gatekeeper.admit("c") is not None
    assert gatekeeper.admit("c") is not None  # back before its Retry-After
    assert gatekeeper.stats.rejected_for_rate == 2
    assert gatekeeper.stats.early_retries == 1
    assert gatekeeper.stats.highest_arrivals_per_second == 4


def test_it_meters_the_calls_in_flight_each_caller_and_the_longest_pause():
    gauge = ConcurrencyGauge()
    gauge.enter(10.0)
    gauge.enter(10.5)
    gauge.leave(11.0)
    gauge.leave(12.0)
    assert gauge.request_seconds == 2.5  # 1 s and 1.5 s in flight

    gatekeeper = Gatekeeper(ErpBehaviour())
    assert gatekeeper.admit("a", "run-1") is None
    gatekeeper.finish("run-1")
    time.sleep(0.2)
    assert gatekeeper.admit("b", "run-2") is None
    gatekeeper.finish("run-2")
    stats = gatekeeper.stats
    assert {caller: stats.callers[caller].accepted for caller in stats.callers} == {"run-1": 1, "run-2": 1}
    assert stats.callers["run-1"].last_completion <= stats.callers["run-2"].first_arrival
    assert stats.longest_pause_seconds >= 0.2


def test_business_endpoints_answer_the_same_data_every_time(demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0))
    client = httpx.Client(base_url=erp_url)
    items = client.get("/api/open-items", params={"batch": "B1", "count": 3}).json()
    assert items == client.get("/api/open-items", params={"batch": "B1", "count": 3}).json()
    assert [item["item_id"] for item in items] == ["B1-00000", "B1-00001", "B1-00002"]
    reconciled = client.post("/api/reconciliations", json={"item_id": "B1-00000", "amount_cents": 5})
    assert reconciled.json()["status"] in {"matched", "mismatch"}
    invoice = {
        "invoice_number": "I-1",
        "supplier": "S",
        "total_cents": 1,
        "currency": "EUR",
        "due_date": "2025-01-01",
    }
    assert client.post("/api/invoices", json=invoice).status_code == 201
    page = client.get("/api/customers", params={"page": 0, "page_size": 50}).json()
    assert len(page["customers"]) == 50 and page["total"] == 240
    assert client.post("/api/reconciliations", json={"item_id": "no amount"}).status_code == 422
    assert client.get("/_admin/stats").json()["accepted"] == 6


def test_its_timeline_holds_concurrency_arrivals_refusals_and_latency_per_interval():
    gatekeeper = Gatekeeper(ErpBehaviour(max_concurrency=2))
    arrived = time.monotonic()
    assert gatekeeper.admit("a") is None
    assert gatekeeper.admit("b") is None
    assert gatekeeper.admit("c") is not None  # the third at once: refused, but counted as demand
    gatekeeper.finish(arrived_at=arrived)
    gatekeeper.finish(arrived_at=arrived)
    timeline = gatekeeper.timeline.snapshot()
    assert sum(bucket.arrivals for bucket in timeline.buckets) == 3
    assert sum(bucket.accepted for bucket in timeline.buckets) == 2
    assert sum(bucket.rejected for bucket in timeline.buckets) == 1
    assert max(bucket.highest_concurrency for bucket in timeline.buckets) == 3
    assert timeline.completed == 2
    assert timeline.latency_p50_seconds is not None and timeline.latency_p50_seconds >= 0


def test_the_timeline_fills_quiet_intervals_with_what_stayed_in_flight():
    recorder = TimelineRecorder(bucket_seconds=1.0)
    recorder.arrival(100.2, in_flight=0, accepted=True)
    recorder.arrival(100.4, in_flight=1, accepted=True)
    recorder.completion(103.5, in_flight=1, latency_seconds=3.1)
    buckets = recorder.snapshot().buckets
    assert [bucket.start for bucket in buckets] == [100.0, 101.0, 102.0, 103.0]
    assert [bucket.highest_concurrency for bucket in buckets] == [2, 2, 2, 2]
    assert [bucket.completed for bucket in buckets] == [0, 0, 0, 1]


def test_the_timeline_is_served_over_http(demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.01))
    with httpx.Client(base_url=erp_url) as client:
        for index in range(3):
            client.post("/api/reconciliations", json={"item_id": f"T-{index}", "amount_cents": 5})
    timeline = admin.timeline()
    assert sum(bucket.accepted for bucket in timeline.buckets) == 3
    assert timeline.latency_p95_seconds is not None and timeline.latency_p95_seconds >= 0.01

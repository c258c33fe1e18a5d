"""The demo ERP's own protection and bookkeeping: what it refuses, what it answers and what it reports."""

import time

import httpx

from flows.demo_erp.behaviour import ErpBehaviour
from flows.demo_erp.gatekeeper import Gatekeeper
from flows.demo_erp.meters import ConcurrencyGauge


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

"""Three rpa1 flow runs share the stack's erp-api-rate limit: the ERP, which enforces the same token bucket
(burst = the limit, refill = its slot decay per second), never has to refuse a call for going too fast."""

from tests.flows.stack import finish_all, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

RUNS = 3
DOCUMENTS = 15
BURST, PER_SECOND = 5, 10.0


def test_concurrent_flow_runs_never_exceed_the_rate(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.02, rate_per_second=PER_SECOND, rate_burst=BURST))
    stack = new_stack(erp_api=10, erp_api_rate=(BURST, PER_SECOND), db_write=1)
    set_flow_variables("rpa1", max_concurrent_tasks=5, timeout_seconds=120)

    processes = [
        stack.start_flow_run("rpa1", erp_url, f"--documents={DOCUMENTS}", f"--batch=R{run}")
        for run in range(RUNS)
    ]
    outcomes = finish_all(processes)

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    assert stats.accepted == RUNS * DOCUMENTS
    assert stats.rejected_for_rate == 0
    assert stats.highest_arrivals_per_second <= BURST + PER_SECOND  # the bucket's bound over one second
    assert stack.query("select count(*) from posted_invoices") == [(RUNS * DOCUMENTS,)]

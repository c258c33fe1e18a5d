"""Three rpa3 flow runs at once, each in its own process like containers of one stack: the ERP never sees
more calls at once than the stack's erp-api limit, and the results database never more than one writer."""

from datetime import UTC, datetime
from itertools import pairwise

from prefect.client.schemas.objects import StateType

from tests.flows.stack import finish_all, flow_runs_since, set_flow_variables
from tools.demo_erp.behaviour import ErpBehaviour

RUNS = 3
ITEMS = 24
ERP_LIMIT = 3


def test_concurrent_flow_runs_never_exceed_the_erp_limit_or_the_single_writer(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.1))  # the ERP measures, it does not enforce here
    stack = new_stack(erp_api=ERP_LIMIT, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=4, timeout_seconds=120)  # 3 x 4 wanted, 3 allowed
    started = datetime.now(UTC)

    processes = [
        stack.start_flow_run("rpa3", erp_url, f"--items={ITEMS}", f"--batch=B{run}") for run in range(RUNS)
    ]
    outcomes = finish_all(processes)  # one bound for all: a hang fails with every run's output

    for code, output in outcomes:
        assert code == 0, output
    stats = admin.stats()
    assert stats.accepted == RUNS * (ITEMS + 1)  # each run lists its items once, then one call per item
    assert stats.highest_concurrency <= ERP_LIMIT
    assert stack.query("select count(*) from reconciliations") == [(RUNS * ITEMS,)]
    writes = sorted(stack.query("select started_at, finished_at from write_log"))
    assert len(writes) >= RUNS
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(writes))
    runs = flow_runs_since("rpa3", started) + flow_runs_since("rpa3-reconcile-batch", started)
    assert len(runs) == 2 * RUNS
    assert {run.state_type for run in runs} == {StateType.COMPLETED}
    assert stack.active_slots("erp-api") == 0  # every lease given back

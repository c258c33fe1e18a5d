"""The results database is PostgreSQL when given its URL: rpa3 writes (and rewrites, idempotently) there."""

import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.flows.stack import finish, set_flow_variables
from tests.support.postgres import postgres_bin_dir, throwaway_cluster
from tools.demo_erp.behaviour import ErpBehaviour

pytest.importorskip("psycopg", reason="the PostgreSQL driver is an optional dependency: psycopg[binary]")
BIN_DIR = postgres_bin_dir()


@pytest.mark.skipif(BIN_DIR is None, reason="needs PostgreSQL's initdb and pg_ctl on this machine")
def test_flow_runs_write_results_to_postgresql(new_stack, demo_erp):
    admin, erp_url = demo_erp
    admin.configure(ErpBehaviour(latency_seconds=0.01))
    stack = new_stack(erp_api=4, erp_api_rate=(100, 100.0), db_write=1)
    set_flow_variables("rpa3", max_concurrent_tasks=4, timeout_seconds=60)
    assert BIN_DIR is not None
    # Not tmp_path: its parents are private to root, and PostgreSQL runs as `postgres`.
    with tempfile.TemporaryDirectory() as workdir, throwaway_cluster(BIN_DIR, Path(workdir)) as url:
        for _ in range(2):  # the second run rewrites the same items
            run = stack.start_flow_run("rpa3", erp_url, "--items=10", "--batch=PG", database_url=url)
            code, output = finish(run)
            assert code == 0, output
        engine = create_engine(url)
        with engine.connect() as connection:
            rows = connection.execute(text("select count(*) from reconciliations")).scalar_one()
            writes = connection.execute(text("select count(*) from write_log")).scalar_one()
        engine.dispose()
    assert (rows, writes) == (10, 2)

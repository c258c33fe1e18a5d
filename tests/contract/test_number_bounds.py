"""The bounds of infra/prefect_resources/bounds.py, measured on real Prefect servers: the largest value of each
number is stored and read back as written, through the provider protocol; one beyond it is refused at Check,
before anything is sent; and what the servers themselves accept is what the bound was chosen from."""

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient

from infra.prefect_resources.bounds import MAX_STORED_INT
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.task_run_concurrency_limit import TaskRunConcurrencyLimitProvider
from infra.prefect_resources.work_pool import WorkPoolProvider
from infra.prefect_resources.work_queue import WorkQueueProvider
from infra.prefect_resources.work_queue_priorities import WorkQueuePrioritiesProvider
from tests.support.postgres import postgres_bin_dir, throwaway_cluster
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.provider_protocol import EngineStack, ProviderError
from tests.support.temp_dirs import temp_dir

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_the_largest_values_are_stored_and_read_back(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    pool, limit, tag = f"ct-{unique}-max", f"ct-{unique}-max", f"ct-{unique}-max"
    stacks = [
        (
            engine("WorkPool", WorkPoolProvider(), "p"),
            {"name": pool, "type": "process", "concurrencyLimit": MAX_STORED_INT},
        ),
        (
            engine("WorkQueue", WorkQueueProvider(), "q"),
            {"name": "q", "workPoolName": pool, "concurrencyLimit": MAX_STORED_INT},
        ),
        (
            engine("WorkQueuePriorities", WorkQueuePrioritiesProvider(), "qp"),
            {"workPoolName": pool, "priorities": {"q": MAX_STORED_INT}},
        ),
        (
            engine("GlobalConcurrencyLimit", GlobalConcurrencyLimitProvider(), "l"),
            {"name": limit, "limit": MAX_STORED_INT, "slotDecayPerSecond": float(MAX_STORED_INT)},
        ),
        (
            engine("TaskRunConcurrencyLimit", TaskRunConcurrencyLimitProvider(), "t"),
            {"tag": tag, "limit": MAX_STORED_INT},
        ),
    ]
    for stack, inputs in stacks:
        assert stack.up(inputs) == "create"
    held_limit = client.read_global_concurrency_limit_by_name(limit)
    assert [
        client.read_work_pool(pool).concurrency_limit,
        client.read_work_queue_by_name("q", work_pool_name=pool).concurrency_limit,
        client.read_work_queue_by_name("q", work_pool_name=pool).priority,
        held_limit.limit,
        held_limit.slot_decay_per_second,
        client.read_concurrency_limit_by_tag(tag).concurrency_limit,
    ] == [MAX_STORED_INT] * 6
    for stack, inputs in stacks:
        assert stack.refresh()
        assert stack.up(inputs) == "same", "read back exactly as written"


@pytest.mark.parametrize(
    ("resource_type", "provider", "inputs", "prop"),
    [
        ("WorkPool", WorkPoolProvider, {"type": "process", "concurrencyLimit": 2**63}, "concurrencyLimit"),
        ("GlobalConcurrencyLimit", GlobalConcurrencyLimitProvider, {"limit": 2**31}, "limit"),
        (
            "GlobalConcurrencyLimit",
            GlobalConcurrencyLimitProvider,
            {"limit": 1, "slotDecayPerSecond": 1e19},
            "slotDecayPerSecond",
        ),
        ("TaskRunConcurrencyLimit", TaskRunConcurrencyLimitProvider, {"limit": 2**31}, "limit"),
    ],
)
def test_one_beyond_is_refused_at_check_before_anything_is_sent(
    engine: Callable[..., EngineStack],
    unique: str,
    resource_type: str,
    provider: type[PrefectProvider],
    inputs: dict,
    prop: str,
) -> None:
    key = (
        {"tag": f"ct-{unique}-big"}
        if resource_type == "TaskRunConcurrencyLimit"
        else {"name": f"ct-{unique}-big"}
    )
    stack = engine(resource_type, provider())
    with pytest.raises(
        ProviderError, match=rf"{prop}: Input should be less than or equal to {MAX_STORED_INT}"
    ):
        stack.up({**key, **inputs})
    assert stack.provider.calls[-1] == "Check"


def status_of_a_new(api_url: str, path: str, body: dict) -> int:
    """What the server answers to creating the object (deleted again when it was made)."""
    name = f"m-{uuid.uuid4().hex[:8]}"
    status = httpx.post(f"{api_url}{path}", json={"name": name, **body}, timeout=60).status_code
    if status == httpx.codes.CREATED:
        httpx.delete(f"{api_url}{path}{name}", timeout=60)
    return status


def limit_status(api_url: str, limit: int) -> int:
    return status_of_a_new(api_url, "/v2/concurrency_limits/", {"limit": limit})


def pool_status(api_url: str, limit: int) -> int:
    return status_of_a_new(api_url, "/work_pools/", {"type": "process", "concurrency_limit": limit})


def test_sqlite_stores_64_bit_integers(prefect_server: PrefectServer) -> None:
    api = prefect_server.api_url
    assert [limit_status(api, 2**63 - 1), pool_status(api, 2**63 - 1)] == [201, 201]
    assert limit_status(api, 2**63) >= 500 and pool_status(api, 2**63) >= 500


@pytest.fixture(scope="module")
def postgresql_server() -> Iterator[PrefectServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("needs PostgreSQL's binaries (initdb, pg_ctl) to measure a PostgreSQL-backed server")
    with (
        temp_dir("bounds") as work,
        throwaway_cluster(bin_dir, work) as url,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("PREFECT_API_DATABASE_CONNECTION_URL", url.replace("+psycopg", "+asyncpg"))
        server = PrefectServer(home=work / "prefect-home", port=free_port(), log_path=work / "server.log")
        server.start()
        yield server
        server.stop()


def test_postgresql_stores_the_bound_and_refuses_one_beyond(postgresql_server: PrefectServer) -> None:
    """Prefect's limits and priorities are INTEGER columns: 32 bits on PostgreSQL."""
    api = postgresql_server.api_url
    assert [limit_status(api, MAX_STORED_INT), pool_status(api, MAX_STORED_INT)] == [201, 201]
    assert limit_status(api, MAX_STORED_INT + 1) >= 500 and pool_status(api, MAX_STORED_INT + 1) >= 500

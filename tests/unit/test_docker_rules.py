"""Names and sizes the Docker engine would refuse are refused with the stack file's key before anything is
sent: a pool name Prefect accepts may still make worker container names Docker does not."""

import pytest

from infra.docker_rules import container_name_problem, memory_bytes
from infra.program.worker_spec import memory_in_mb
from infra.stack_files.stack_config import parse_stack_settings
from tests.unit.test_settings import SOURCE, edited, problems_for


@pytest.mark.parametrize("pool", ["rpa-döcker", "rpa docker", "rpa:docker", "ロボット"])
def test_a_pool_whose_worker_container_name_docker_refuses(pool: str) -> None:
    raw = edited("platform.pools.0.name", pool)
    raw["platform"]["queues"][0]["pool"] = pool
    raw["platform"]["workers"][0]["pool"] = pool
    problems = problems_for(raw)
    assert (
        f"container name 'prod-{pool}-worker-3' is refused by Docker" in problems["platform.workers[0].pool"]
    )


def test_the_same_pool_name_without_workers_is_prefects_business_only() -> None:
    raw = edited("platform.pools.0.name", "rpa-döcker")
    raw["platform"]["queues"][0]["pool"] = "rpa-döcker"
    raw["platform"]["workers"] = []
    parse_stack_settings("prod", SOURCE, raw)


@pytest.mark.parametrize("name", ["prod-rpa-docker-worker-1", "a.b_c-9"])
def test_names_docker_accepts(name: str) -> None:
    assert container_name_problem(name) is None


def test_memory_sizes_as_docker_reads_them() -> None:
    assert [memory_bytes(size) for size in ("512m", "2g", "64k", "7000000", "2G", "")] == [
        512 * 2**20,
        2 * 2**30,
        64 * 2**10,
        7000000,
        None,
        None,
    ]
    assert [memory_in_mb(size) for size in ("512m", "2g", "7000000b")] == [512, 2048, 6]

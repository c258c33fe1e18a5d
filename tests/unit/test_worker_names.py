"""A pool's workers on several Docker hosts are several worker entries; Prefect tells workers apart by name
alone, so their replicas are numbered across the pool's entries."""

from infra.program.worker_spec import worker_container_specs
from infra.stack_files.settings import StackSettings
from infra.stack_files.stack_config import PROJECT_ROOT, from_stack_file

SECOND_HOST = "unix:///var/run/rpa-docker-2.sock"


def test_replicas_of_one_pool_on_two_hosts_get_distinct_names() -> None:
    dev = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml")
    (worker,) = dev.platform.workers
    workers = [
        worker.model_copy(update={"replicas": 2}),
        worker.model_copy(update={"replicas": 1, "docker_host": SECOND_HOST}),
    ]
    platform = dev.platform.model_copy(update={"workers": workers})
    settings = StackSettings(
        stack="dev", source=dev.source, config=dev.config.model_copy(update={"platform": platform})
    )
    specs = worker_container_specs(settings)
    assert [(s.name, s.docker_host) for s in specs] == [
        ("dev-rpa-docker-worker-1", worker.docker_host),
        ("dev-rpa-docker-worker-2", worker.docker_host),
        ("dev-rpa-docker-worker-3", SECOND_HOST),
    ]
    assert specs[2].binds == [("/var/run/rpa-docker-2.sock", "/var/run/docker.sock")]

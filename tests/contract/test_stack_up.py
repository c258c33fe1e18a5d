"""Each shipped stack as `pulumi up` would apply it: the objects the program declares, through the real
provider process, onto the real server. The first up creates every object; a second up changes nothing."""

from collections.abc import Iterator

import pytest
from prefect.client.orchestration import SyncPrefectClient

from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file
from tests.support.provider_protocol import DynamicProviderProcess
from tests.support.stack_up import PrefectObjects


def renamed(stack: str, unique: str) -> StackSettings:
    """The stack file under a unique stack name (its pools and limits are named from it). Variables are
    named by environment, which other tests share: adopt them rather than clash."""
    settings = from_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml")
    platform = settings.platform.model_copy(update={"adopt_existing": True})
    config = settings.config.model_copy(update={"platform": platform})
    return StackSettings(stack=f"up{unique}", source=settings.source, config=config)


@pytest.fixture(params=["dev", "staging", "prod"])
def applied(
    request: pytest.FixtureRequest, provider_process: DynamicProviderProcess, unique: str
) -> Iterator[tuple[StackSettings, PrefectObjects, list[str]]]:
    settings = renamed(request.param, unique)
    objects = PrefectObjects(provider_process, settings)
    try:
        yield settings, objects, objects.up()
    finally:
        objects.destroy()


def test_up_creates_the_stack_and_a_second_up_changes_nothing(
    applied: tuple[StackSettings, PrefectObjects, list[str]], client: SyncPrefectClient
) -> None:
    settings, objects, first = applied
    platform = settings.platform
    assert first == ["create"] * len(first)
    assert len(first) == (
        len(platform.pools)
        + len(platform.queues)
        + len(platform.variables)
        + len(platform.concurrency_limits)
        + len(platform.tag_limits)
    )
    pools = {pool.name: client.read_work_pool(settings.pool_name(pool.name)) for pool in platform.pools}
    limits = {
        limit.name: client.read_global_concurrency_limit_by_name(settings.limit_name(limit.name))
        for limit in platform.concurrency_limits
    }
    for name, pool in pools.items():
        assert pool.concurrency_limit == settings.pool(name).concurrency_limit
    for limit in platform.concurrency_limits:
        assert limits[limit.name].limit == limit.limit
        assert limits[limit.name].slot_decay_per_second == limit.slot_decay_per_second
    for key, value in platform.variables.items():
        assert client.read_variable_by_name(settings.variable_name(key)).value == value

    assert objects.up() == ["same"] * len(first)
    for name, pool in pools.items():
        assert client.read_work_pool(pool.name).updated == pool.updated, f"pool {name} was written"
    for name, limit in limits.items():
        assert client.read_global_concurrency_limit_by_name(limit.name).updated == limit.updated, name

"""Adoption takes over an existing object's settings, never its identity, and its refusals name the switch
the object's author actually has: `adoptExisting` in a stack file, `adopt` on a resource in code."""

from collections.abc import Callable

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate

from infra.prefect_resources.work_pool import WorkPoolProvider
from tests.support.provider_protocol import EngineStack, ProviderError

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_adopting_a_pool_of_another_type_is_refused_and_changes_nothing(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    name = f"ct-{unique}-typed"
    client.create_work_pool(WorkPoolCreate(name=name, type="process", concurrency_limit=1))
    stack = engine("WorkPool", WorkPoolProvider())
    try:
        with pytest.raises(ProviderError) as raised:
            stack.up({"name": name, "type": "docker", "concurrencyLimit": 3, "adopt": True})
        assert str(raised.value) == (
            f"work pool '{name}' exists on the Prefect server with type 'process', but the stack declares "
            "'docker'. Adopting it would leave it 'process' (Prefect cannot change a work pool's type): delete "
            "it on the server first, or give the stack's one another name."
        )
        pool = client.read_work_pool(name)
        assert (pool.type, pool.concurrency_limit) == ("process", 1), "a refused adoption writes nothing"
        assert stack.state is None, "and leaves nothing in the state"
    finally:
        client.delete_work_pool(name)


def test_adopting_a_pool_of_the_same_type_takes_its_settings_over(
    engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    name = f"ct-{unique}-same"
    client.create_work_pool(WorkPoolCreate(name=name, type="process", concurrency_limit=1))
    stack = engine("WorkPool", WorkPoolProvider())
    assert stack.up({"name": name, "type": "process", "concurrencyLimit": 3, "adopt": True}) == "create"
    assert client.read_work_pool(name).concurrency_limit == 3


@pytest.mark.parametrize(
    ("declared_in", "switch"),
    [
        ("Pulumi.prod.yaml", "Set `adoptExisting: true` under rpa-platform:platform in Pulumi.prod.yaml"),
        (None, "Pass adopt=True to this work pool"),
    ],
)
def test_the_refusal_names_the_switch_where_the_object_is_declared(
    engine: Callable[..., EngineStack],
    client: SyncPrefectClient,
    unique: str,
    declared_in: str | None,
    switch: str,
) -> None:
    name = f"ct-{unique}-taken"
    client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    stack = engine("WorkPool", WorkPoolProvider())
    declared = {"declaredIn": declared_in} if declared_in else {}
    try:
        with pytest.raises(ProviderError) as raised:
            stack.up({"name": name, "type": "process", **declared})
        assert f"already exists on the Prefect server; this stack did not create it. {switch}" in str(
            raised.value
        )
        assert "adopt: true" not in str(raised.value)
    finally:
        client.delete_work_pool(name)

"""Every Prefect provider through the real provider protocol against a real Prefect server:
create -> no-op -> update in place -> drift seen by refresh and undone -> out-of-band delete seen and
recreated -> destroy; bad input refused at check with nothing written."""

from collections.abc import Callable

import pytest
from prefect.client.orchestration import SyncPrefectClient

from tests.contract.resource_cases import CASES, ResourceCase
from tests.support.provider_protocol import EngineStack, ProviderError

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(params=CASES, ids=[case.resource_type for case in CASES])
def case(request: pytest.FixtureRequest) -> ResourceCase:
    return request.param


def test_lifecycle(
    case: ResourceCase, engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    case.setup(client, unique)
    inputs = case.inputs(unique)
    stack = engine(case.resource_type, case.provider())

    assert stack.up(inputs) == "create"
    assert case.exists(client, inputs)
    created_outputs = dict(stack.state.outputs)

    # A second `up` with the same program changes nothing, and neither does a refresh of an untouched object.
    assert stack.up(inputs) == "same"
    assert stack.refresh()
    assert stack.up(inputs) == "same"
    assert stack.state.outputs == created_outputs

    changed = {**inputs, **case.change}
    assert stack.up(changed) == "update"
    assert case.held(client, changed) == case.changed_value
    assert stack.up(changed) == "same"

    # Drift: refresh reports what the server holds, and the next `up` puts the stack's value back.
    case.edit_out_of_band(client, changed)
    assert stack.refresh()
    assert case.held(client, changed) != case.changed_value
    drifted = next(iter(case.change))
    assert stack.state.outputs[drifted] != changed[drifted], "refresh must show the server's value"
    assert stack.up(changed) == "update"
    assert case.held(client, changed) == case.changed_value

    # Deleted behind Pulumi's back: refresh says gone, `up` recreates it.
    case.delete_out_of_band(client, changed)
    assert not stack.refresh()
    assert stack.up(changed) == "create"
    assert case.held(client, changed) == case.changed_value

    stack.destroy()
    assert not case.exists(client, changed)


def test_delete_of_already_deleted_object_succeeds(
    case: ResourceCase, engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    case.setup(client, unique)
    stack = engine(case.resource_type, case.provider())
    stack.up(case.inputs(unique))
    case.delete_out_of_band(client, case.inputs(unique))
    stack.destroy()  # Raises if the provider reports an error.
    assert stack.provider.calls[-1] == "Delete"
    assert not case.exists(client, case.inputs(unique))


def test_bad_input_is_refused_at_check_and_nothing_is_written(
    case: ResourceCase, engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    case.setup(client, unique)
    bad = {**case.inputs(unique), **case.bad}
    stack = engine(case.resource_type, case.provider())
    with pytest.raises(ProviderError, match=case.bad_property):
        stack.up(bad)
    assert stack.provider.calls[-1] == "Check"
    assert not case.exists(client, bad)


def test_existing_object_is_not_taken_over_without_adopt(
    case: ResourceCase, engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    case.setup(client, unique)
    inputs = case.inputs(unique)
    first = engine(case.resource_type, case.provider(), name="first")
    first.up(inputs)

    second = engine(case.resource_type, case.provider(), name="second")
    with pytest.raises(ProviderError, match=r"already exists.*adopt"):
        second.up({**inputs, **case.change})
    assert case.held(client, inputs) != case.changed_value, "a refused adoption must not write"

    assert second.up({**inputs, **case.change, "adopt": True}) == "create"
    assert case.held(client, inputs) == case.changed_value
    first.state = None  # The object now belongs to `second`, which destroys it.


def test_state_written_by_another_provider_version(
    case: ResourceCase, engine: Callable[..., EngineStack], client: SyncPrefectClient, unique: str
) -> None:
    """State this version cannot parse (a field it no longer knows, one it does not have yet) is refreshed,
    updated in place and destroyed, never replaced into a name clash."""
    case.setup(client, unique)
    inputs = case.inputs(unique)
    stack = engine(case.resource_type, case.provider())
    stack.up(inputs)
    changed_key = next(iter(case.change))
    stack.state.outputs = {
        **{key: value for key, value in stack.state.outputs.items() if key != changed_key},
        "fieldFromAnOlderRelease": 1,
    }

    assert stack.up({**inputs, **case.change}) == "update"
    assert case.held(client, inputs) == case.changed_value
    stack.state.outputs["fieldFromAnOlderRelease"] = 1
    assert stack.refresh()
    stack.destroy()
    assert not case.exists(client, inputs)

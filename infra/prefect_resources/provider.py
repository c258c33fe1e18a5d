"""The dynamic-provider protocol (check, diff, create, read, update, delete) for any Prefect object.

Each object's module supplies its inputs model and four calls to the Prefect client; this module decides
what Pulumi sees: structural diffs, updates in place, replacement only for identity fields, reads that show
drift, out-of-band deletes reported as gone, explicit adoption of existing objects.
"""

import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN
from pydantic import ValidationError

from infra.prefect_resources import one_line_errors
from infra.prefect_resources.api_errors import api_failure, response_detail
from infra.prefect_resources.connection import PrefectConnection
from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.one_line_errors import ActionableError

InputsT = TypeVar("InputsT", bound=ResourceInputs)
T = TypeVar("T")


DOING = {"create": "creating", "read": "reading", "update": "updating", "delete": "deleting"}


class PrefectRequestError(ActionableError):
    """A request failed; the message says which object, what was asked, what happened and what to do."""


def has_unknown(value: Any) -> bool:
    """True when a preview has not computed this value yet (it depends on a resource still to be made)."""
    if isinstance(value, dict):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return isinstance(value, Unknown) or value == UNKNOWN


def input_fields(props: dict[str, Any]) -> dict[str, Any]:
    """The resource's own fields: without `__provider`, and without unset (None) ones so defaults apply."""
    return {key: value for key, value in props.items() if not key.startswith("__") and value is not None}


class PrefectProvider(ResourceProvider, Generic[InputsT]):
    """Base of the providers. Stateless when pickled: the connection is set by `configure` in the provider
    process, so nothing secret is captured into the `__provider` property."""

    # Not a ClassVar (it may not hold a type variable): typed so, `_inputs` returns this provider's own model.
    inputs_model: type[InputsT]

    # --- what each Prefect object implements -------------------------------------------------------------

    def fetch(self, client: SyncPrefectClient, inputs: InputsT) -> tuple[str, InputsT] | None:
        """The object's id and what the server holds, as inputs (unmanaged fields copied from `inputs`);
        None when it does not exist."""
        raise NotImplementedError

    def create_object(self, client: SyncPrefectClient, inputs: InputsT) -> str:
        """Create it and return its id; raise ObjectAlreadyExists when the name is taken."""
        raise NotImplementedError

    def update_object(
        self, client: SyncPrefectClient, object_id: str, inputs: InputsT, old: InputsT | None
    ) -> None:
        """Make the object match `inputs`; `old` is what it held before, when known."""
        raise NotImplementedError

    def delete_object(self, client: SyncPrefectClient, object_id: str, inputs: InputsT) -> None:
        """Delete it; raise ObjectNotFound when it is already gone."""
        raise NotImplementedError

    # --- the provider protocol -----------------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        self._connection = PrefectConnection.from_provider_config(req.config)
        one_line_errors.install()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        props = input_fields(news)
        if has_unknown(props):
            # Checked again with every value known before anything is created or updated.
            return CheckResult(news, [])
        problems = self.inputs_model.problems(props)
        if problems:
            return CheckResult(news, [CheckFailure(p.property, p.reason) for p in problems])
        return CheckResult(self._inputs(props).normalized().to_props(), [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changed_fields(olds, news)
        replaced = [field for field in changed if field in self.inputs_model.replace_on]
        same_identity = not any(field in self.inputs_model.natural_key for field in changed)
        aliases = self.inputs_model.model_fields
        return DiffResult(
            changes=bool(changed),
            replaces=[aliases[field].alias or field for field in replaced],
            # A replacement under the same name must free the name before the new object can take it.
            delete_before_replace=bool(replaced) and same_identity,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self._inputs(props)
        client = self._client()
        try:
            object_id = self._call(inputs, "create", lambda: self.create_object(client, inputs))
        except ObjectNotFound as missing:
            raise PrefectRequestError(
                f"cannot create {inputs.label()}: an object it belongs to does not exist on the Prefect "
                f"server ({missing.http_exc})"
            ) from None
        except ObjectAlreadyExists:
            if not inputs.adopt:
                raise PrefectRequestError(
                    f"{inputs.label()} already exists on the Prefect server; this stack did not create it. "
                    f"{inputs.adoption_switch()} to take it over (its settings become the stack's), or "
                    "rename it."
                ) from None
            existing = self._call(inputs, "read", lambda: self.fetch(client, inputs))
            if existing is None:
                raise PrefectRequestError(f"{inputs.label()} vanished while being adopted; retry") from None
            object_id, held = existing
            refuse_other_identity(inputs, held)
            self._call(inputs, "update", lambda: self.update_object(client, object_id, inputs, held))
        return CreateResult(object_id, inputs.to_props())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = self._identity(props)
        found = self._call(inputs, "read", lambda: self.fetch(self._client(), inputs))
        if found is None:
            return ReadResult(None, {})
        object_id, held = found
        # Held state becomes both the outputs and the inputs for the next diff, so drift shows as a change.
        return ReadResult(object_id, held.to_props(), held.to_props())

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = self._inputs(news)
        old = self._parsed_or_none(olds)
        client = self._client()
        try:
            self._call(inputs, "update", lambda: self.update_object(client, id_, inputs, old))
        except ObjectNotFound:
            raise PrefectRequestError(
                f"{inputs.label()} no longer exists on the Prefect server; run `pulumi refresh` (or "
                f"`pulumi up --refresh`) so that it is recreated"
            ) from None
        return UpdateResult(inputs.to_props())

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        inputs = self._identity(props)
        with contextlib.suppress(ObjectNotFound):  # Already gone is what delete wants.
            self._call(inputs, "delete", lambda: self.delete_object(self._client(), id_, inputs))

    # --- helpers -------------------------------------------------------------------------------------------

    def _inputs(self, props: dict[str, Any]) -> InputsT:
        return self.inputs_model.model_validate(input_fields(props))

    def _parsed_or_none(self, olds: dict[str, Any]) -> InputsT | None:
        try:
            return self._inputs(olds)
        except ValidationError:
            return None

    def _client(self) -> SyncPrefectClient:
        return self._configured().client()

    def _configured(self) -> PrefectConnection:
        # Configured by the engine before any call; unconfigured (a program's own use), the stack's default.
        return getattr(self, "_connection", None) or PrefectConnection()

    def _changed_fields(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        model = self.inputs_model
        compared = {name: field.alias or name for name, field in model.model_fields.items()}
        compared = {name: alias for name, alias in compared.items() if name not in model.unmanaged}
        old = None if has_unknown(news) else self._parsed_or_none(olds)
        if old is None:
            # Values a preview does not know yet, or state written by another version of this provider:
            # compare what is on the wire, field by field, so that only what differs is updated.
            return [
                name
                for name, alias in compared.items()
                if has_unknown(news.get(alias)) or news.get(alias) != olds.get(alias)
            ]
        new = self._inputs(news)
        # Parsed values, not text: JSON that differs only in key order or 5 vs 5.0 is the same.
        return [name for name in compared if getattr(old, name) != getattr(new, name)]

    def _identity(self, props: dict[str, Any]) -> InputsT:
        """The inputs of an object in state, even state this version cannot fully parse: enough to find the
        object by its natural key."""
        parsed = self._parsed_or_none(props)
        if parsed is not None:
            return parsed
        known = {
            name: props[field.alias or name]
            for name, field in self.inputs_model.model_fields.items()
            if props.get(field.alias or name) is not None
        }
        return self.inputs_model.model_construct(**known)

    def __getstate__(self) -> dict[str, Any]:
        # Only the class travels in the pickled provider; a connection never does.
        return {}

    def _call(self, inputs: ResourceInputs, verb: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except httpx.HTTPError as error:
            doing = f"{DOING[verb]} {inputs.label()}"
            if message := api_failure(error, self._configured().api_url, doing):
                raise PrefectRequestError(message) from None
            if isinstance(error, httpx.HTTPStatusError):
                raise PrefectRequestError(
                    f"Prefect refused to {verb} {inputs.label()}: HTTP {error.response.status_code} "
                    f"{response_detail(error.response)}"
                ) from None
            raise


def refuse_other_identity(inputs: ResourceInputs, held: ResourceInputs) -> None:
    """Adoption takes over an object's settings, not its identity: a field Prefect cannot change in place
    (a pool's type) that differs would leave the object as it is while the state says otherwise."""
    for name in inputs.replace_on:
        if name not in inputs.natural_key and getattr(held, name) != getattr(inputs, name):
            field = type(inputs).model_fields[name].alias or name
            found, declared = getattr(held, name), getattr(inputs, name)
            raise PrefectRequestError(
                f"{inputs.label()} exists on the Prefect server with {field} '{found}', but the stack "
                f"declares '{declared}'. Adopting it would leave it '{found}' (Prefect cannot change a "
                f"{inputs.kind}'s {field}): delete it on the server first, or give the stack's one another "
                "name."
            )

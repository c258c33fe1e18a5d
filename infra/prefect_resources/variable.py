"""Prefect Variable: a named JSON value that flows read at run time (e.g. `production_rpa3_timeout`)."""

import math
from typing import Any, ClassVar

import httpx
import pulumi
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import VariableCreate, VariableUpdate
from prefect.exceptions import ObjectNotFound
from pydantic import Field

from infra.prefect_resources.bounds import MAX_EXACT_NUMBER
from infra.prefect_resources.inputs import ResourceInputs, prefect_model_problems
from infra.prefect_resources.provider import PrefectProvider
from infra.prefect_resources.resource import PrefectResource
from infra.problem import Problem


class VariableInputs(ResourceInputs):
    kind: ClassVar[str] = "variable"

    name: str = Field(min_length=1)
    value: Any = None
    tags: list[str] = Field(default_factory=list)

    def prefect_problems(self) -> list[Problem]:
        return prefect_model_problems(
            lambda: VariableCreate(name=self.name, value=self.value, tags=self.tags)
        ) + inexact_numbers(self.value, "value")


def inexact_numbers(value: Any, path: str) -> list[Problem]:
    """Numbers that would not arrive as written: JSON has no infinity, and Pulumi carries numbers as 64-bit
    floats, which change integers beyond 2**53."""
    if isinstance(value, dict):
        return [problem for key, item in value.items() for problem in inexact_numbers(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [problem for i, item in enumerate(value) for problem in inexact_numbers(item, f"{path}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(path, f"must be a finite number (got {value})")]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_NUMBER:
        reason = f"{value} is beyond +-2**53, where Pulumi's 64-bit floats change integers; write a string"
        return [Problem(path, reason)]
    return []


class VariableProvider(PrefectProvider[VariableInputs]):
    inputs_model = VariableInputs

    def fetch(self, client: SyncPrefectClient, inputs: VariableInputs) -> tuple[str, VariableInputs] | None:
        variable = client.read_variable_by_name(inputs.name)
        if variable is None:
            return None
        held = inputs.model_copy(update={"value": variable.value, "tags": list(variable.tags or [])})
        return str(variable.id), held

    def create_object(self, client: SyncPrefectClient, inputs: VariableInputs) -> str:
        variable = client.create_variable(
            VariableCreate(name=inputs.name, value=inputs.value, tags=inputs.tags)
        )
        return str(variable.id)

    def update_object(
        self, client: SyncPrefectClient, object_id: str, inputs: VariableInputs, old: VariableInputs | None
    ) -> None:
        try:
            client.update_variable(VariableUpdate(name=inputs.name, value=inputs.value, tags=inputs.tags))
        except httpx.HTTPStatusError as error:
            if error.response.status_code == httpx.codes.NOT_FOUND:
                raise ObjectNotFound(http_exc=error) from error
            raise

    def delete_object(self, client: SyncPrefectClient, object_id: str, inputs: VariableInputs) -> None:
        client.delete_variable_by_name(inputs.name)


class Variable(PrefectResource[VariableInputs], module="prefect", name="Variable"):
    """A Prefect Variable. `name` is the full name (`<environment>_<flow>_<setting>`)."""

    provider_class = VariableProvider

    name: pulumi.Output[str]
    value: pulumi.Output[Any]

"""The Pulumi-facing side of a Prefect object: a dynamic resource whose properties are its typed inputs."""

from typing import TYPE_CHECKING, Any, Generic

import pulumi
import pulumi.dynamic
from pydantic.alias_generators import to_camel

from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.provider import InputsT, PrefectProvider


class PrefectResource(pulumi.dynamic.Resource, Generic[InputsT]):
    """Declared from its inputs model, `WorkPool("pool", WorkPoolInputs(name=..., type=...))`: the model's
    constructor is typed (a misspelt or mistyped field is a type error) and validates (a value out of bounds
    fails at once). Every field is an output attribute of the same name."""

    # Not a ClassVar, which may not hold a type variable: this is what ties the provider to the inputs model.
    provider_class: type[PrefectProvider[InputsT]]

    def __init__(
        self, resource_name: str, inputs: InputsT, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self._declare(resource_name, inputs, opts)

    def _declare(
        self,
        resource_name: str,
        inputs: InputsT,
        opts: pulumi.ResourceOptions | None,
        **outputs: pulumi.Input[Any] | None,
    ) -> None:
        """`outputs`: fields whose value is another resource's output (a queue's pool name, from its pool),
        by field name, in place of the model's value; for subclasses, which type them."""
        super().__init__(self.provider_class(), resource_name, wire_properties(inputs, outputs), opts)

    if not TYPE_CHECKING:  # Hidden from mypy, so that an output not declared on the class is a type error.

        def __getattr__(self, name: str) -> Any:
            """Outputs by snake_case name: `pool.concurrency_limit` is the `concurrencyLimit` output."""
            camel = to_camel(name)
            if camel != name and camel in self.__dict__:
                return self.__dict__[camel]
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


def wire_properties(inputs: ResourceInputs, outputs: dict[str, pulumi.Input[Any] | None]) -> dict[str, Any]:
    """The properties Pulumi registers: every field camelCase (on the wire, in state and in previews), null
    where unset so that the provider's check applies the default, `adopt` only when asked for.

    (Not through translate_input_property: Pulumi applies it to nested keys too, which would rename
    environment variables inside job defaults.)"""
    fields = type(inputs).model_fields
    unknown = sorted(set(outputs) - set(fields))
    if unknown:
        raise TypeError(f"{type(inputs).__name__} has no field {', '.join(unknown)}")
    values: dict[str, Any] = {name: getattr(inputs, name) for name in fields}
    values["adopt"] = values["adopt"] or None
    values.update({name: value for name, value in outputs.items() if value is not None})
    return {field.alias or name: values[name] for name, field in fields.items()}

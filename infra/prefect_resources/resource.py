"""The Pulumi-facing side of a Prefect object: a dynamic resource whose properties are its typed inputs."""

from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pydantic.alias_generators import to_camel

from infra.prefect_resources.inputs import ResourceInputs
from infra.prefect_resources.provider import PrefectProvider


class PrefectResource(pulumi.dynamic.Resource):
    """Takes the inputs model's fields as keyword arguments (snake_case, any of them may be an Output) and
    exposes every field as an output attribute of the same name."""

    inputs_model: ClassVar[type[ResourceInputs]]
    provider_class: ClassVar[type[PrefectProvider]]

    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: pulumi.Input[Any]
    ) -> None:
        fields = self.inputs_model.model_fields
        unknown = sorted(set(inputs) - set(fields))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no input {', '.join(unknown)}; inputs are: {', '.join(fields)}"
            )
        # camelCase on the wire, in state and in previews. (Not through translate_input_property: Pulumi
        # applies it to nested keys too, which would rename environment variables inside job defaults.)
        props: dict[str, Any] = {field.alias or name: None for name, field in fields.items()}
        props.update({fields[name].alias or name: value for name, value in inputs.items()})
        super().__init__(self.provider_class(), resource_name, props, opts)

    def __getattr__(self, name: str) -> Any:
        """Outputs by their snake_case names: `pool.concurrency_limit` is the `concurrencyLimit` output."""
        camel = to_camel(name)
        if camel != name and camel in self.__dict__:
            return self.__dict__[camel]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

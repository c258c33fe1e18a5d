"""The typed inputs every Prefect resource shares, and how their problems are reported.

Inputs travel camelCase (Pulumi's convention, as in state and `pulumi preview`) and are snake_case in Python.
The same `problems()` serves the provider's `check` and the stack settings, so a bad value is refused with
the same words whether it comes from a stack file or from a program that uses the resource directly.
"""

from collections.abc import Callable
from typing import Any, ClassVar, Self

from prefect.types.names import BANNED_CHARACTERS, WITHOUT_BANNED_CHARACTERS
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from infra.problem import Problem
from infra.url_credentials import masked_url
from infra.wire_numbers import whole_numbers


def error_path(loc: tuple[str | int, ...]) -> str:
    """('pools', 0, 'concurrencyLimit') -> 'pools[0].concurrencyLimit'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def describe_error(item: ErrorDetails, show_input: bool = True) -> str:
    """One pydantic error in words a stack author can act on: what is allowed, and what was given."""
    if item["type"] == "extra_forbidden":
        return "unknown property"
    if item["type"] == "missing":
        return "required"
    reason = item["msg"].removeprefix("Value error, ")
    if (
        item["type"] == "string_pattern_mismatch"
        and item.get("ctx", {}).get("pattern") == WITHOUT_BANNED_CHARACTERS
    ):
        reason = f"must not contain any of {' '.join(BANNED_CHARACTERS)} (Prefect refuses them)"
    if show_input:
        given = masked_url(repr(item["input"]))
        reason += f" (got {given[:60]}{'...' if len(given) > 60 else ''})"
    return reason


def validation_problems(error: ValidationError, rename: dict[str, str] | None = None) -> list[Problem]:
    """Pydantic's errors as problems; `rename` maps the first path element (e.g. a Prefect client model's
    snake_case field) to the property the user wrote."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        if loc and rename and loc[0] in rename:
            loc = (rename[str(loc[0])], *loc[1:])
        problems.append(Problem(error_path(loc) or "(inputs)", describe_error(item)))
    return problems


class ResourceInputs(BaseModel):
    """Inputs of one Prefect object. Subclasses declare the object's fields and Prefect's rules for them."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, validate_default=True
    )

    @model_validator(mode="before")
    @classmethod
    def _numbers_from_the_wire(cls, data: Any) -> Any:
        return whole_numbers(data)

    adopt: bool = False
    """Take over an object that already exists under this name instead of failing on the clash."""
    declared_in: str | None = None
    """The stack file the object is declared in (`Pulumi.prod.yaml`), so that messages name the setting the
    stack author writes there; None for an object a program declares itself."""

    kind: ClassVar[str]
    """What the object is called in messages: 'work pool', 'variable', ..."""
    natural_key: ClassVar[tuple[str, ...]] = ("name",)
    """The fields Prefect identifies the object by; changing one creates a new object."""
    replace_on: ClassVar[tuple[str, ...]] = ("name",)
    """Fields Prefect cannot update in place."""
    unmanaged: ClassVar[frozenset[str]] = frozenset({"adopt", "declared_in"})
    """Fields about how the object is managed, not held by Prefect: never a reason to update."""

    @classmethod
    def problems(cls, props: dict[str, Any]) -> list[Problem]:
        try:
            inputs = cls.model_validate(props)
        except ValidationError as error:
            return validation_problems(error)
        return inputs.prefect_problems()

    def prefect_problems(self) -> list[Problem]:
        """What Prefect would refuse, found before anything is sent."""
        return []

    def normalized(self) -> Self:
        """The program's inputs completed into what the server will hold (e.g. a pool's default template).
        Applied once, at check: state already holds the completed form."""
        return self

    def label(self) -> str:
        return f"{self.kind} '{getattr(self, 'name', '?')}'"

    def adoption_switch(self) -> str:
        """How the author of these inputs asks for adoption, where they wrote them."""
        if self.declared_in:
            return f"Set `adoptExisting: true` under rpa-platform:platform in {self.declared_in}"
        return f"Pass adopt=True to this {self.kind}"

    def to_props(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def prefect_model_problems(
    build: Callable[[], object], rename: dict[str, str] | None = None
) -> list[Problem]:
    """Build one of the Prefect client's action models and return what its validators refuse."""
    try:
        build()
    except ValidationError as error:
        return validation_problems(error, rename)
    return []

"""The one type every validation reports in: the stack settings, the resources' inputs and the provider's
`check` all refuse with it, so that a message reads the same whichever of them finds the mistake."""

from typing import NamedTuple


class Problem(NamedTuple):
    """One reason a value is refused: `property` is its path (camelCase) in what was given: the stack file's
    key path, or the resource's inputs."""

    property: str
    reason: str

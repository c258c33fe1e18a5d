"""YAML files as this project reads them (stack files, prefect.yaml): PyYAML's safe loader, refusing a key
given twice in one mapping (YAML keeps the last one silently), with errors that name the line and never quote
it (the line next to a mistake may hold a credential)."""

from pathlib import Path
from typing import Any

import yaml

MERGE_KEY = "<<"


class YamlFileError(Exception):
    """The file is not YAML this project accepts; the message names the line."""


class UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == MERGE_KEY:
                continue  # Merged anchors may be overridden on purpose.
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise YamlFileError(
                    f"line {line}: key {key!r} is given twice (first on line {first_line[key]}); YAML would "
                    "keep the last one silently: keep one"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """The document in `path`; YamlFileError when it cannot be read or is not accepted YAML."""
    try:
        text = path.read_text()
    except OSError as error:
        raise YamlFileError(f"cannot be read: {error.strerror}") from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # A SafeLoader: plain data only.
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlFileError(f"{where}not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlFileError(f"not valid YAML: {type(error).__name__}") from None

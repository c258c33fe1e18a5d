"""The runtime's interface is what `flows.runtime` names: the flows, the operator commands and the tools import
nothing else of it, so its modules can change behind that interface. (Tests may look inside.)"""

import ast
from pathlib import Path

import pytest

import flows.runtime
from infra.stack_files.stack_config import PROJECT_ROOT

OUTSIDE_THE_RUNTIME = [
    path
    for folder in ("flows", "operations", "tools")
    for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
    if not path.is_relative_to(PROJECT_ROOT / "flows" / "runtime")
]


def runtime_imports(path: Path) -> list[str]:
    """What the module imports of the runtime: `flows.runtime.<module>`, or a name from `flows.runtime`."""
    imported = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "flows.runtime":
            imported += [f"flows.runtime.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flows.runtime."):
            imported.append(str(node.module))
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names if alias.name.startswith("flows.runtime.")]
    return imported


@pytest.mark.parametrize("path", OUTSIDE_THE_RUNTIME, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_code_outside_the_runtime_uses_its_interface_only(path: Path) -> None:
    public = {f"flows.runtime.{name}" for name in flows.runtime.__all__}
    assert [name for name in runtime_imports(path) if name not in public] == []


def test_the_interface_is_what_the_package_names() -> None:
    assert sorted(flows.runtime.__all__) == sorted(set(flows.runtime.__all__))
    assert all(hasattr(flows.runtime, name) for name in flows.runtime.__all__)

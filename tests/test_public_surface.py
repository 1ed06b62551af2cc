"""The public surface is what the notebooks use: pinned, documented, and nothing else reached."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import types
from pathlib import Path

import pytest

import labkit

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
# Modules a notebook may import from by their dotted path; each pins its names in __all__.
PUBLIC_MODULES = ["labkit", "labkit.labs", "labkit.monitoring", "labkit.plots", "labkit.widgets"]
PUBLIC_MODULES += [f"labkit.labs.{name}" for name in labkit.labs.__all__]


def public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} is public but has no __all__"
    return list(names)


def every_public_module() -> dict[str, types.ModuleType]:
    found = {name: importlib.import_module(name) for name in PUBLIC_MODULES}
    for name in labkit.__all__:  # the submodules labkit exports: quiz, exercises, ...
        value = getattr(labkit, name)
        if isinstance(value, types.ModuleType):
            found[f"labkit.{name}"] = value
    return found


@pytest.mark.parametrize("module_name", sorted(every_public_module()))
def test_every_public_name_exists_and_is_documented(module_name):
    module = every_public_module()[module_name]
    assert inspect.getdoc(module), f"{module_name} has no docstring"
    for name in public_names(module):
        value = getattr(module, name)  # AttributeError: __all__ names something missing
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
            assert inspect.getdoc(value), f"{module_name}.{name} is public but undocumented"


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    # IPython magics and shell lines are not Python
    return [
        "\n".join(ln for ln in s.splitlines() if not ln.lstrip().startswith(("%", "!")))
        for s in sources
    ]


class NotebookUse(ast.NodeVisitor):
    """Collects every labkit name a notebook reaches, resolved through its imports."""

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self.modules = modules  # public dotted name -> module
        self.bound: dict[str, types.ModuleType] = {}  # notebook variable -> public module
        self.problems: list[str] = []

    def _module_for(self, dotted: str) -> types.ModuleType | None:
        return self.modules.get(dotted)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] != "labkit":
                continue
            module = self._module_for(alias.name)
            if module is None:
                self.problems.append(f"import {alias.name}: not a public module")
            elif alias.asname:
                self.bound[alias.asname] = module
            else:
                self.bound["labkit"] = labkit

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module or node.module.split(".")[0] != "labkit":
            return
        module = self._module_for(node.module)
        if module is None:
            self.problems.append(f"from {node.module} import ...: not a public module")
            return
        for alias in node.names:
            if alias.name not in public_names(module):
                self.problems.append(f"from {node.module} import {alias.name}: not public")
                continue
            value = getattr(module, alias.name)
            if isinstance(value, types.ModuleType):
                self.bound[alias.asname or alias.name] = value

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = []
        target: ast.AST = node
        while isinstance(target, ast.Attribute):
            chain.append(target.attr)
            target = target.value
        if isinstance(target, ast.Name) and target.id in self.bound:
            module = self.bound[target.id]
            for attr in reversed(chain):
                if attr not in public_names(module):
                    self.problems.append(f"{target.id}....{attr}: not public in {module.__name__}")
                    return
                value = getattr(module, attr)
                if not isinstance(value, types.ModuleType):
                    return  # an object's own attributes are its class's business
                module = value
            return
        self.generic_visit(node)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_reach_only_public_labkit_names(path):
    use = NotebookUse(every_public_module())
    for source in code_cells(path):
        tree = compile(
            source, path.name, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        use.visit(tree)
    assert use.problems == []
    assert "labkit" in use.bound or use.bound, f"{path.name} does not use labkit at all"


def test_the_surface_check_catches_a_private_reach():
    """The checker itself: each way of reaching past the surface is reported."""
    use = NotebookUse(every_public_module())
    bad = (
        "import labkit\nfrom labkit.infra.blocking import run_blocking\n"
        "from labkit.labs import leaks\nleaks.record_result\nlabkit.infra\n"
        "from labkit import results\n"
    )
    use.visit(ast.parse(bad))
    assert len(use.problems) == 4, use.problems


def test_notebooks_await_coroutines_instead_of_running_their_own_loop():
    for path in NOTEBOOKS:
        for source in code_cells(path):
            assert "run_blocking" not in source, path.name
            assert "asyncio.run(" not in source, path.name

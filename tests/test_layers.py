"""The package's layering, enforced: imports go down the layers, never up, and module-level
imports form no cycle. A new upward import fails here, naming the file and the import.

Layers, lowest first (docs/layout.md):

0. ``errors``, ``utils``, ``config`` (schemas, validation, strategy rules, the task registry);
1. ``data``, ``models``, ``training``, ``metrics``, ``tracking``, ``evaluation``;
2. ``tasks``;
3. ``run``, ``execute``, ``launch``, ``sweeps`` (one job, its processes, many jobs);
4. ``cli`` (and the Hydra launcher plugin in ``hydra_plugins``).

A module may import its own layer and the ones below. Function-level (lazy) imports count
too: they run in the same process and couple the same code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

LAYERS = {
    "errors": 0, "utils": 0, "config": 0, "conf": 0,
    "data": 1, "models": 1, "training": 1, "metrics": 1, "tracking": 1, "evaluation": 1,
    "tasks": 2,
    "run": 3, "execute": 3, "launch": 3, "sweeps": 3,
    "cli": 4,
}
TOP = 5  # hydra_plugins: the launcher plugin sits above everything


def _modules() -> dict[str, Path]:
    files = {}
    for path in sorted((ROOT / "socio_re").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    for path in sorted((ROOT / "hydra_plugins" / "socio_re_launcher").rglob("*.py")):
        files[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return files


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] == "hydra_plugins":  # ours; hydra_submitit_launcher is a library
        return TOP if len(parts) > 1 and parts[1] == "socio_re_launcher" else None
    if parts[0] != "socio_re":
        return None
    if len(parts) == 1:
        return 0  # the package itself (its __init__ holds no imports of its own)
    return LAYERS.get(parts[1])


def _imports(path: Path, module_level_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] in ("socio_re", "hydra_plugins")]


def test_every_package_of_socio_re_has_a_layer():
    packages = {p.name for p in (ROOT / "socio_re").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    packages = {p.removesuffix(".py") for p in packages} - {"__init__"}
    assert packages <= set(LAYERS), f"give these a layer in LAYERS: {packages - set(LAYERS)}"


def test_no_module_imports_a_higher_layer():
    upward = []
    for module, path in _modules().items():
        mine = _layer(module)
        for line, target in _imports(path, module_level_only=False):
            theirs = _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} "
                              f"(layer {theirs} > {mine})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_module_level_imports_form_no_cycle():
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for _, target in _imports(path, module_level_only=True):
            # "from socio_re.x import y" may name a submodule y or an attribute of x
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                targets.add(target)
        graph[module] = targets

    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


# The commands of one task's own features (its scorer, its ensemble, its results table): the
# user types their module names, so they sit with the other commands and say whose they are.
TASK_COMMANDS = {"socio_re.cli.score_relext", "socio_re.cli.ensemble", "socio_re.cli.paper_table"}


def _code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are code (not docstrings) and names, with their lines."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in docstrings:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Name | ast.arg | ast.alias):
            found.append((node.lineno, getattr(node, "id", None) or getattr(node, "arg", None)
                          or node.name))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
    return found


def test_no_shared_module_names_a_task():
    """Shared layers ask the task (its TaskSpec) instead of naming it: no import of a task
    package and no task name in their code (docstrings and comments may give examples)."""
    import re

    from socio_re.config.tasks import task_names

    names = re.compile("|".join(task_names()), re.IGNORECASE)
    offences = []
    for module, path in _modules().items():
        if module.startswith(("socio_re.tasks", "hydra_plugins")) or module in TASK_COMMANDS:
            continue
        tree = ast.parse(path.read_text())
        for line, target in _imports(path, module_level_only=False):
            if target.startswith("socio_re.tasks."):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
        for line, text in _code_strings(tree):
            if text and names.search(text):
                offences.append(f"{path.relative_to(ROOT)}:{line} names a task: {text[:60]!r}")
    assert not offences, "task knowledge in shared modules:\n" + "\n".join(offences)

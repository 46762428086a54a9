"""Layers run one way: every module of the package is parsed and each of its imports checked.

Imports inside functions count as much as those at the top of a file, and so do the module
names of the lazy-attribute tables (``_LAZY``) and ``importlib.import_module("...")`` calls.

- ``beamsim.models`` imports nothing of beamsim but itself;
- ``beamsim.distill`` imports only itself, ``beamsim.models`` and the core modules;
- the core modules import only each other (the package root, a facade, may name any wing in
  its lazy table: nothing is imported until the attribute is used);
- ``beamsim.simulation`` never imports ``beamsim.distill`` or ``beamsim.experiments``;
- ``beamsim.scenarios`` imports only the core;
- nothing outside ``beamsim.cli`` imports ``beamsim.cli``;
- ``beamsim.distill`` and ``beamsim.models`` never import Sionna (nor Dr.Jit, Mitsuba, TensorFlow);
- no module is longer than :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package -> folder (the one mapping, in pyproject.toml).
PACKAGES: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
#: The small modules every layer may use: the package root, settings, errors, file and TOML helpers.
CORE = {"beamsim", "beamsim._lazy", "beamsim.config", "beamsim.errors", "beamsim.fileio", "beamsim.tomlio",
        "beamsim.records", "beamsim.h5safe"}
SIMULATORS = ("sionna", "drjit", "mitsuba", "tensorflow")


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            if "__pycache__" in rel.parts:
                continue
            found[".".join([package, *[p for p in rel.parts if p != "__init__"]])] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """The absolute names of every module ``name`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".")
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                out.update(v.value for v in node.value.values if isinstance(v, ast.Constant))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            out.add(node.args[0].value)
    return out


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _known(module: str, names: set[str]) -> str | None:
    """The package module ``module`` refers to (``from x import name`` may name a function)."""
    while module:
        if module in names:
            return module
        module = module.rpartition(".")[0]
    return None


ALL = modules()


def _rule(name: str) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(packages ``name`` may import from, None for any; packages it must not import from).
    The core modules are always allowed, except to ``beamsim.models``."""
    if _within(name, ("beamsim.models",)):
        return ("beamsim.models",), ()
    if _within(name, ("beamsim.distill",)):
        return ("beamsim.distill", "beamsim.models"), ()
    if name == "beamsim":  # the facade: its lazy table names the public entry points of every wing
        return None, ("beamsim.cli",)
    if name in CORE:
        return (), ()
    if _within(name, ("beamsim.scenarios",)):
        return ("beamsim.scenarios",), ()
    if _within(name, ("beamsim.simulation",)):
        return None, ("beamsim.distill", "beamsim.experiments", "beamsim.cli")
    if _within(name, ("beamsim.cli",)):
        return None, ()
    return None, ("beamsim.cli",)


def violations(name: str, path: Path) -> list[str]:
    """The imports of ``name`` that cross a layer the wrong way."""
    allowed, forbidden = _rule(name)
    core = set() if _within(name, ("beamsim.models",)) else CORE
    bad = []
    for imported in sorted(imports_of(name, path)):
        if _within(name, ("beamsim.distill", "beamsim.models")) and imported.split(".")[0] in SIMULATORS:
            bad.append(imported)
            continue
        target = _known(imported, set(ALL))
        if target is None or target in core:
            continue  # another library, or a core module
        if (allowed is not None and not _within(target, allowed)) or _within(target, forbidden):
            bad.append(target)
    return sorted(set(bad))


def test_the_parser_sees_every_kind_of_import(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("import os\nfrom . import sibling\nfrom ..up import thing\n"
                    "def f():\n    from beamsim.experiments import evaluate\n"
                    "_LAZY = {'x': 'beamsim.dataset'}\n"
                    "def g():\n    import importlib\n    importlib.import_module('beamsim.cli.main')\n")
    found = imports_of("beamsim.distill.sub.mod", path)
    assert {"os", "beamsim.distill.sub.sibling", "beamsim.distill.up.thing", "beamsim.experiments.evaluate",
            "beamsim.dataset", "beamsim.cli.main"} <= found


def test_a_distill_module_importing_the_beam_wing_is_caught(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from beamsim.dataset import BeamDataset\n    import sionna.phy\n")
    assert violations("beamsim.distill.mod", path) == ["beamsim.dataset", "sionna.phy"]
    assert violations("beamsim.experiments.mod", path) == []


def test_every_package_is_parsed():
    assert {"beamsim.models.training", "beamsim.distill.quadd", "beamsim.simulation.generate", "beamsim.cli.main",
            "beamsim.scenarios", "beamsim.experiments.evaluate"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_layers_run_one_way(name):
    assert violations(name, ALL[name]) == [], f"{name} imports across a layer"


#: No module of the package grows past this many lines (one concept per module).
MAX_LINES = 400


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_module_is_a_hub(name):
    lines = len(ALL[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concept"

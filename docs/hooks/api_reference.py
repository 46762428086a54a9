"""MkDocs hook: the Python API pages, one entry per public name, from the packages' ``__all__``.

The package maps folders into one namespace (pyproject ``[tool.setuptools] package-dir``:
``distill/`` is ``beamsim.distill``, ``models/`` is ``beamsim.models``, ...). Griffe, which
mkdocstrings uses to read the sources without importing them, looks for ``beamsim/distill/``
and does not find it; dynamic inspection does not help either, since it walks the same folders
(and ``beamsim.distill`` names its members lazily). So ``on_config`` lays out the installed
tree in a temporary folder, one symbolic link per file or folder of each mapped package, and
gives that folder to mkdocstrings as its first search path. The sources are read where they
are; the links only give them the names they have once installed.

A page asks for a package's reference with a line ``<!-- api: beamsim.distill -->``;
``on_page_markdown`` replaces it with one ``:::`` block per name of that package's ``__all__``,
read from the imported package at build time, so a new public name can never be left out.

The docstrings name objects with Sphinx roles (``:func:`load```), which Markdown shows as
``:func:`` before the code; ``on_page_content`` drops the role and keeps the code.
"""

from __future__ import annotations

import atexit
import importlib
import json
import re
import shutil
import tempfile
import tomllib
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- api: (?P<package>[\w.]+) -->$", re.MULTILINE)
ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|exc|obj|const):(?=<code>)")
#: Docstrings that break the strict build, in modules that were being edited elsewhere when the
#: docs were written: object -> the griffe docstring options that silence its parser's warning
#: (the docstring still renders). Remove an entry once its docstring is fixed.
DOCSTRING_WORKAROUNDS: dict[str, dict] = {}


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """package -> folder, as pyproject.toml's ``[tool.setuptools] package-dir`` says."""
    table = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return {package: root / folder for package, folder in table.items()}


def installed_tree(dest: Path, packages: dict[str, Path]) -> None:
    """Lay out ``packages`` under ``dest`` as they are installed: ``dest/beamsim/distill`` -> ``distill/``."""
    for package in sorted(packages, key=lambda name: name.count(".")):
        target = dest.joinpath(*package.split("."))
        if target.is_symlink():  # a sub-package mapped elsewhere replaces the link of its parent
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(packages[package].iterdir()):
            if child.name == "__pycache__" or (target / child.name).exists():
                continue
            (target / child.name).symlink_to(child, target_is_directory=child.is_dir())


def identifier(package: str, name: str) -> str:
    """Where griffe finds ``package.name``: its lazy module's name, or the package's own alias."""
    module = importlib.import_module(package)
    lazy = getattr(module, "_LAZY", {})
    return f"{lazy[name]}.{name}" if name in lazy else f"{package}.{name}"


def reference(package: str) -> str:
    """The Markdown of one package's reference: a ``:::`` block per name of its ``__all__``."""
    names = getattr(importlib.import_module(package), "__all__", None)
    if not names:
        raise PluginError(f"{package} has no __all__ to document")
    blocks = []
    for name in names:
        target = identifier(package, name)
        options = {"heading": f"{package}.{name}", "toc_label": name}
        if target in DOCSTRING_WORKAROUNDS:
            options["docstring_options"] = DOCSTRING_WORKAROUNDS[target]
        blocks.append(f"::: {target}\n    options:\n" + "".join(
            f"      {key}: {json.dumps(value)}\n" for key, value in options.items()))
    return "\n".join(blocks)


@event_priority(100)  # before mkdocstrings reads its handler's settings
def on_config(config):
    tree = Path(tempfile.mkdtemp(prefix="beamsim-docs-api-"))
    atexit.register(shutil.rmtree, tree, ignore_errors=True)
    installed_tree(tree, package_dirs())
    handlers = config.plugins["mkdocstrings"].config.handlers
    python = handlers.setdefault("python", {})
    python["paths"] = [str(tree), *python.get("paths", [])]
    return config


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(lambda match: reference(match["package"]), markdown)


def on_page_content(html, page, config, files):
    return ROLE.sub("", html)

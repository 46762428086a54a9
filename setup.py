"""Package discovery for the one `beamsim` namespace.

pyproject.toml maps the top-level folders into `beamsim` (`distill/` is `beamsim.distill`, ...).
setuptools needs every subpackage named; this lists them from the folders so that a new
subpackage can never be left out of a wheel.
"""

import tomllib
from pathlib import Path

from setuptools import setup

#: package -> folder, as pyproject.toml's [tool.setuptools] package-dir says.
ROOTS = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def _packages() -> list[str]:
    here = Path(__file__).parent
    found = []
    for name, folder in ROOTS.items():
        for init in sorted((here / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(here / folder)
            if "__pycache__" in rel.parts:
                continue
            found.append(".".join([name, *rel.parts]))
    return found


setup(packages=_packages())

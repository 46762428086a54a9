"""beamsim: mmWave beam-management data from Sionna, distilled into few-bit sets with QuADD.

Public entry points (imported lazily so that ``import beamsim`` stays light and does not
load Sionna until a simulation runs):

- :func:`beamsim.generate` - simulate a data set and write it (``beamsim generate``).
- :class:`beamsim.BeamDataset` - a data-set file as a torch ``Dataset``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

from beamsim._lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "BeamDataset": "beamsim.dataset",
    "read_dataset": "beamsim.dataset",
    "generate": "beamsim.simulation.generate",
    "merge": "beamsim.simulation.generate",
    "config": "beamsim.config",
    "Config": "beamsim.config",
    "load_scenario": "beamsim.scenarios",
    "evaluate": "beamsim.experiments.evaluate",
}

__all__ = ["__version__", *_LAZY]


class _SourceTreeFinder(importlib.abc.MetaPathFinder):
    """Fallback for running from a source checkout: ``beamsim.distill`` is the folder ``distill/``.

    An installed package (wheel or editable) never needs it; it only answers when Python found
    ``beamsim`` as the ``beamsim/`` folder of a checkout (e.g. ``python -c ...`` in the repo root).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, sub = fullname.partition(".")
        if prefix != "beamsim" or sub not in ("distill", "models", "scenarios", "cli"):
            return None
        init = self.root / sub / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[str(init.parent)])


_root = Path(__file__).resolve().parent.parent
if (_root / "pyproject.toml").is_file() and (_root / "distill").is_dir():
    sys.meta_path.append(_SourceTreeFinder(_root))

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

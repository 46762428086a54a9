"""beamsim: mmWave beam-management data from Sionna, distilled into few-bit sets with QuADD.

Public entry points (imported lazily so that ``import beamsim`` stays light and does not
load Sionna until a simulation runs):

- :func:`beamsim.generate` - simulate a data set and write it (``beamsim generate``).
- :class:`beamsim.BeamDataset` - a data-set file as a torch ``Dataset``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "BeamDataset": "beamsim.dataset",
    "read_dataset": "beamsim.dataset",
    "generate": "beamsim.simulation.generate",
    "merge": "beamsim.simulation.generate",
    "config": "beamsim.config",
    "Config": "beamsim.config",
    "load_scenario": "beamsim.scenarios",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'beamsim' has no attribute {name!r}")

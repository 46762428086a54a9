"""beamsim: mmWave beam-management data from Sionna, distilled into few-bit sets with QuADD.

Public entry points (imported lazily so that ``import beamsim`` stays light and does not
load Sionna until a simulation runs):

- :func:`beamsim.generate` - simulate a data set and write it (``beamsim generate``).
- :class:`beamsim.BeamDataset` - a data-set file as a torch ``Dataset``.
"""

from __future__ import annotations

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


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

"""The experiments wing: metrics, training, evaluation and plots.

Submodules are imported on first use so that ``import beamsim.experiments`` stays light.
The evaluation function is ``beamsim.evaluate`` (``beamsim.experiments.evaluate`` is its module).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "EvaluationResult": "beamsim.experiments.evaluate",
    "Protocol": "beamsim.experiments.evaluate",
    "default_epochs": "beamsim.experiments.evaluate",
    "train_model": "beamsim.experiments.train",
    "predict": "beamsim.experiments.train",
    "beam_kpis": "beamsim.experiments.metrics",
    "image_kpis": "beamsim.experiments.metrics",
    "write_evaluation_plots": "beamsim.experiments.plots",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'beamsim.experiments' has no attribute {name!r}")

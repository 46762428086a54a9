"""The experiments wing: metrics, training, evaluation and plots.

Submodules are imported on first use so that ``import beamsim.experiments`` stays light.
The evaluation function is ``beamsim.evaluate`` (``beamsim.experiments.evaluate`` is its module).
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "EvaluationResult": "beamsim.experiments.evaluate",
    "Protocol": "beamsim.experiments.evaluate",
    "default_epochs": "beamsim.experiments.evaluate",
    "train_model": "beamsim.models.training",
    "predict": "beamsim.models.training",
    "beam_kpis": "beamsim.experiments.metrics",
    "image_kpis": "beamsim.experiments.metrics",
    "write_evaluation_plots": "beamsim.experiments.plots",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

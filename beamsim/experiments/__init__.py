"""The experiments wing: metrics, evaluation and plots.

Submodules are imported on first use so that ``import beamsim.experiments`` stays light.
The evaluation function is ``beamsim.evaluate`` (``beamsim.experiments.evaluate`` is its module);
beside it, one module per concept: ``tasks`` (what each modality brings: KPIs, reference,
default model, augmentation), ``loaders`` (training and test sets and their checks),
``protocol`` (the training runs), ``result`` (:class:`EvaluationResult`), ``metrics``, ``plots``.
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "EvaluationResult": "beamsim.experiments.result",
    "Protocol": "beamsim.experiments.protocol",
    "default_epochs": "beamsim.experiments.protocol",
    "Task": "beamsim.experiments.tasks",
    "BeamTask": "beamsim.experiments.tasks",
    "ImageTask": "beamsim.experiments.tasks",
    "TrainingSet": "beamsim.experiments.loaders",
    "TestSet": "beamsim.experiments.loaders",
    "load_training_set": "beamsim.experiments.loaders",
    "load_test_set": "beamsim.experiments.loaders",
    "train_model": "beamsim.models.training",
    "predict": "beamsim.models.training",
    "beam_kpis": "beamsim.experiments.metrics",
    "image_kpis": "beamsim.experiments.metrics",
    "write_evaluation_plots": "beamsim.experiments.plots",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

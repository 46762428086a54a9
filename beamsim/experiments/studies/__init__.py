"""Studies: grids of distillations and evaluations with resumable points, tables and figures.

- :func:`rate_distortion_study`: accuracy against total payload bits over spc x bits, with the
  best configuration per budget (:mod:`~beamsim.experiments.studies.rate_distortion`);
- :func:`imbalance_study`: initialisation with vs. without replacement against bits
  (:mod:`~beamsim.experiments.studies.imbalance`);
- :func:`baselines_study`: every method at one spc and bit width, from a registry of named
  methods (:mod:`~beamsim.experiments.studies.baselines`).

Where each part lives, one concept per module:

- :mod:`~beamsim.experiments.studies.settings`: :class:`StudySettings` (the options every
  study shares), the study's run-time context and the cache keys;
- :mod:`~beamsim.experiments.studies.sources`: the training sources (how a point's set is
  made: :class:`RealSource`, :class:`DistillSource`, :class:`PtqSource`,
  :class:`PatchPtqSource`; subclass :class:`TrainingSource` for a new kind);
- :mod:`~beamsim.experiments.studies.commands`: the shell commands a point records;
- :mod:`~beamsim.experiments.studies.runner`: :class:`Point` and :func:`run_points`, the
  resumable point runner;
- :mod:`~beamsim.experiments.studies.outputs`: table rows, the CSV/PNG/JSON outputs and
  :class:`StudyResult`;
- :mod:`~beamsim.experiments.studies.plots`: the figures.

Names are imported on first use.
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "StudySettings": "beamsim.experiments.studies.settings",
    "StudyContext": "beamsim.experiments.studies.settings",
    "parse_int_list": "beamsim.experiments.studies.settings",
    "TrainingSource": "beamsim.experiments.studies.sources",
    "Made": "beamsim.experiments.studies.sources",
    "RealSource": "beamsim.experiments.studies.sources",
    "DistillSource": "beamsim.experiments.studies.sources",
    "PtqSource": "beamsim.experiments.studies.sources",
    "PatchPtqSource": "beamsim.experiments.studies.sources",
    "distill_command": "beamsim.experiments.studies.commands",
    "Point": "beamsim.experiments.studies.runner",
    "run_points": "beamsim.experiments.studies.runner",
    "StudyResult": "beamsim.experiments.studies.outputs",
    "rate_distortion_study": "beamsim.experiments.studies.rate_distortion",
    "sweet_spots": "beamsim.experiments.studies.rate_distortion",
    "imbalance_study": "beamsim.experiments.studies.imbalance",
    "class_shortage": "beamsim.experiments.studies.imbalance",
    "baselines_study": "beamsim.experiments.studies.baselines",
    "baseline_methods": "beamsim.experiments.studies.baselines",
    "register_method": "beamsim.experiments.studies.baselines",
    "BaselineOptions": "beamsim.experiments.studies.baselines",
    "draw_figure": "beamsim.experiments.studies.plots",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

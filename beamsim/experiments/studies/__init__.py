"""Studies: grids of distillations and evaluations with resumable points, tables and figures.

- :func:`rate_distortion_study`: accuracy against total payload bits over spc x bits, with the
  best configuration per budget (:mod:`~beamsim.experiments.studies.rate_distortion`);
- :func:`imbalance_study`: initialisation with vs. without replacement against bits
  (:mod:`~beamsim.experiments.studies.imbalance`);
- :func:`baselines_study`: every method at one spc and bit width, from a registry of named
  methods (:mod:`~beamsim.experiments.studies.baselines`).

The point cache, training sources and outputs live in
:mod:`~beamsim.experiments.studies.common`; the figures in
:mod:`~beamsim.experiments.studies.plots`. Names are imported on first use.
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "StudySettings": "beamsim.experiments.studies.common",
    "StudyResult": "beamsim.experiments.studies.common",
    "Point": "beamsim.experiments.studies.common",
    "TrainingSource": "beamsim.experiments.studies.common",
    "RealSource": "beamsim.experiments.studies.common",
    "DistillSource": "beamsim.experiments.studies.common",
    "PtqSource": "beamsim.experiments.studies.common",
    "Made": "beamsim.experiments.studies.common",
    "parse_int_list": "beamsim.experiments.studies.common",
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

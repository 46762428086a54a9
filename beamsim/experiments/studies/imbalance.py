"""Imbalance study: initialisation with vs. without replacement, against bits.

Classes with fewer real training samples than ``spc`` either repeat samples (with
replacement: every class gets ``spc`` rows) or keep the ones they have (without: those
classes get fewer rows, the set is smaller). For each bit width both variants are
distilled (the study's objective, a quantizer in the loop) and evaluated; the figure plots
top-1 and macro F1 against bits for both. The report says how many classes fall short of
``spc`` in the training split and by how much, and how many after the validation hold-out
the distiller takes from each class first.

Outputs in ``out``: ``imbalance.csv`` (one row per point), ``imbalance_classes.csv`` (the
short classes), ``imbalance.png``, ``imbalance.json`` and ``points/``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import torch

from beamsim.experiments.studies.outputs import StudyResult, finish, flat_row
from beamsim.experiments.studies.runner import Point, run_points
from beamsim.experiments.studies.settings import Progress, StudyContext, StudySettings, parse_int_list
from beamsim.experiments.studies.sources import DistillSource

__all__ = ["imbalance_study", "class_shortage"]


def class_shortage(counts: Sequence[int] | torch.Tensor, spc: int, holdout_fraction: float = 0.0) -> dict[str, Any]:
    """How many classes have fewer than ``spc`` samples, and by how much.

    Args:
        counts: [C] samples per class (the training split).
        spc: samples per class asked for.
        holdout_fraction: share of each class held out for validation before initialisation
            (``floor(fraction * n)`` per class, as QuADD does); 0 = none.

    Returns:
        ``classes``, ``classes_short``, ``missing_samples`` (sum of ``spc - n`` over short
        classes), ``min_count``, ``median_count``, the same two after the hold-out
        (``classes_short_after_holdout``, ``missing_after_holdout``), and ``short``: one row
        per class short after the hold-out (``class``, ``count``, ``short_by``, ``available``,
        ``short_by_after_holdout``), sorted by class.

    >>> r = class_shortage([3, 10, 60], 10)
    >>> r["classes_short"], r["missing_samples"], [row["class"] for row in r["short"]]
    (1, 7, [0])
    >>> class_shortage([3, 10, 60], 10, 0.1)["classes_short_after_holdout"]
    2
    """
    counts = [int(c) for c in (counts.tolist() if torch.is_tensor(counts) else counts)]
    if not counts:
        raise ValueError("counts is empty")
    if spc < 1:
        raise ValueError(f"spc must be >= 1, not {spc}")
    rows = []
    for c, n in enumerate(counts):
        available = n - int(math.floor(holdout_fraction * n))
        if available < spc:
            rows.append({"class": c, "count": n, "short_by": max(spc - n, 0), "available": available,
                         "short_by_after_holdout": spc - available})
    return {
        "spc": spc,
        "classes": len(counts),
        "classes_short": sum(1 for n in counts if n < spc),
        "missing_samples": sum(spc - n for n in counts if n < spc),
        "min_count": min(counts),
        "median_count": statistics.median(counts),
        "holdout_fraction": holdout_fraction,
        "classes_short_after_holdout": len(rows),
        "missing_after_holdout": sum(r["short_by_after_holdout"] for r in rows),
        "short": rows,
    }


def _label(replacement: bool) -> str:
    return "with replacement" if replacement else "without replacement"


def _figure(rows: list[dict], spc: int, quantizer: str, objective: str) -> dict:
    panels = []
    for kpi, name in (("top1", "top-1 accuracy (%)"), ("macro_f1", "macro F1 (%)")):
        series = []
        for repl in (True, False):
            mine = sorted((r for r in rows if r["replacement"] is repl), key=lambda r: r["bits"])
            series.append({"label": _label(repl), "x": [r["bits"] for r in mine],
                           "y": [100 * r[f"{kpi}_mean"] for r in mine], "yerr": [100 * r[f"{kpi}_std"] for r in mine],
                           "kpi": kpi})
        panels.append({"title": name.split(" (")[0], "xlabel": "bits per element", "ylabel": name,
                       "xscale": "linear", "integer_x": True, "series": series})
    return {"kind": "panels", "title": f"Imbalance: spc {spc}, QuADD ({objective}, {quantizer})", "panels": panels}


def imbalance_study(settings: StudySettings, *, spc: int = 50, bits: Sequence[int] | str = (4, 6, 8),
              quantizer: str = "apot", progress: Progress | None = None) -> StudyResult:
    """Run (or resume) the imbalance study and write its outputs into ``settings.out``.

    Args:
        settings: the common study settings.
        spc: samples per class (>= 1).
        bits: bit widths (1..8).
        quantizer: quantizer in the loop (``apot``, ``uniform``, ``fsq`` or ``ptq``).
        progress: called with one line per point.

    Returns:
        a :class:`~beamsim.experiments.studies.outputs.StudyResult` (tables ``imbalance`` and
        ``imbalance_classes``, figure ``imbalance``, ``report["shortage"]``).
    """
    (spc,) = parse_int_list([spc] if isinstance(spc, int) else spc, "--spc", 1)
    bit_list = parse_int_list(bits, "--bits", 1, 8)
    if quantizer not in ("apot", "uniform", "fsq", "ptq"):
        raise ValueError(f"unknown quantizer {quantizer!r}: use apot, uniform, fsq or ptq")
    ctx = StudyContext(settings, progress)
    points = [Point(f"b{b}-{'repl' if repl else 'norepl'}", f"{b} bits, {_label(repl)}",
                    DistillSource(spc=spc, bits=b, quantizer=quantizer, replacement=repl),
                    {"spc": spc, "bits": b, "replacement": repl})
              for b in bit_list for repl in (True, False)]
    records = run_points(ctx, points)
    rows = [flat_row(r) for r in records]
    cfg = settings.distill_config(spc=spc)
    holdout = cfg.validation.fraction if cfg.objective != "none" else 0.0
    shortage = class_shortage(ctx.class_counts, spc, holdout)
    objective = cfg.objective
    message = (f"{shortage['classes_short']} of {shortage['classes']} classes have fewer than {spc} training samples "
               f"({shortage['missing_samples']} samples missing in all, smallest class {shortage['min_count']})")
    if holdout > 0:
        message += (f"; after the {holdout:.0%} validation hold-out, {shortage['classes_short_after_holdout']} "
                    f"classes are short by {shortage['missing_after_holdout']} samples")
    ctx.progress(message)
    report = {"shortage": {k: v for k, v in shortage.items() if k != "short"}, "message": message}
    return finish(ctx, "imbalance", records, {"imbalance": rows, "imbalance_classes": shortage["short"]},
                  {"imbalance": _figure(rows, spc, quantizer, objective)}, report=report,
                  settings={"spc": spc, "bits": list(bit_list), "quantizer": quantizer},
                  columns={"imbalance_classes": ["class", "count", "short_by", "available",
                                                 "short_by_after_holdout"]})

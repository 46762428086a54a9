"""Rate-distortion study: accuracy against total payload bits over a grid of spc x bits.

Every (spc, bits) pair is one QuADD run (the study's objective, a quantizer in the loop)
evaluated on the real test split. The figure plots top-1 against the total payload
``N x d x b`` (log axis), one curve per spc; with ``include_full`` the full training split
at 32 bits and quantized once to 8 bits are evaluated too and drawn as horizontal
reference lines. The sweet-spot table lists, for every budget level (each payload that
occurs in the grid), the configuration with the highest top-1 among those that fit.

Outputs in ``out``: ``rate_distortion.csv`` (one row per point), ``sweet_spots.csv``,
``rate_distortion.png``, ``rate_distortion.json`` and ``points/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from beamsim.experiments.studies.outputs import StudyResult, finish, flat_row
from beamsim.experiments.studies.runner import Point, run_points
from beamsim.experiments.studies.settings import FULL_PTQ_BITS, Progress, StudyContext, StudySettings, parse_int_list
from beamsim.experiments.studies.sources import DistillSource, RealSource, full_ptq_source
from beamsim.experiments.studies.plots import format_bits

__all__ = ["rate_distortion_study", "sweet_spots"]

def sweet_spots(points: Sequence[Mapping[str, Any]], cost: str = "payload_bits", score: str = "top1_mean",
                budgets: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """The best point for each budget: highest ``score`` among points with ``cost <= budget``.

    Args:
        points: rows with at least ``cost``, ``score`` and ``name``.
        budgets: budget levels (default: every distinct cost of ``points``, ascending).

    Returns:
        one row per budget (ascending): ``budget`` and the chosen row's fields; a budget
        below every cost gets ``name = None``. Ties go to the cheaper point, then to the
        first given.

    >>> rows = [{"name": "a", "payload_bits": 100, "top1_mean": 0.5},
    ...         {"name": "b", "payload_bits": 200, "top1_mean": 0.4},
    ...         {"name": "c", "payload_bits": 300, "top1_mean": 0.7}]
    >>> [(r["budget"], r["name"]) for r in sweet_spots(rows)]
    [(100, 'a'), (200, 'a'), (300, 'c')]
    """
    usable = [p for p in points if p.get(cost) is not None and p.get(score) is not None]
    levels = sorted({p[cost] for p in usable}) if budgets is None else sorted(budgets)
    out = []
    for budget in levels:
        best = None
        for p in usable:
            if p[cost] > budget:
                continue
            if best is None or p[score] > best[score] or (p[score] == best[score] and p[cost] < best[cost]):
                best = p
        row = {"budget": budget}
        row.update(dict(best) if best is not None else {"name": None})
        out.append(row)
    return out


def _with_mark(row: dict, best: bool) -> dict:
    """``row`` with a ``sweet_spot`` column placed after the KPIs."""
    out: dict = {}
    for key, value in row.items():
        if key == "runs":
            out["sweet_spot"] = best
        out[key] = value
    return out


def _points(ctx: StudyContext, spcs: Sequence[int], bits: Sequence[int], quantizer: str,
            include_full: bool) -> list[Point]:
    points = [Point(f"spc{s}-b{b}", f"spc {s}, {b} bits", DistillSource(spc=s, bits=b, quantizer=quantizer),
                    {"kind": "distilled", "spc": s, "bits": b})
              for s in spcs for b in bits]
    if include_full:
        points.append(Point("full-f32", "full training split, float32", RealSource(),
                            {"kind": "full", "spc": None, "bits": 32}))
        points.append(Point(f"full-ptq{FULL_PTQ_BITS}", f"full training split, PTQ {FULL_PTQ_BITS} bits",
                            full_ptq_source(int(ctx.class_counts.max()), FULL_PTQ_BITS),
                            {"kind": "full", "spc": None, "bits": FULL_PTQ_BITS}))
    return points


def _figure(rows: list[dict], spots: list[dict], quantizer: str, objective: str) -> dict:
    series = []
    for spc in dict.fromkeys(r["spc"] for r in rows if r["kind"] == "distilled"):
        mine = sorted((r for r in rows if r["kind"] == "distilled" and r["spc"] == spc), key=lambda r: r["bits"])
        series.append({"label": f"spc {spc}", "x": [r["payload_bits"] for r in mine],
                       "y": [100 * r["top1_mean"] for r in mine], "yerr": [100 * r["top1_std"] for r in mine],
                       "annotations": [f"{r['bits']} b" for r in mine], "bits": [r["bits"] for r in mine]})
    references = [{"label": f"full data, {r['bits']} bit ({format_bits(r['payload_bits'])})",
                   "y": 100 * r["top1_mean"], "bits": r["bits"], "payload_bits": r["payload_bits"]}
                  for r in rows if r["kind"] == "full"]
    best = {s["name"] for s in spots if s.get("name")}
    chosen = [r for r in rows if r["name"] in best]
    return {"kind": "lines", "title": f"Rate-distortion: QuADD ({objective}, {quantizer} in the loop)",
            "xlabel": "total payload bits (N x d x b)", "ylabel": "top-1 accuracy (%)", "xscale": "log",
            "series": series, "references": references,
            "highlight": {"label": "best for its budget", "x": [r["payload_bits"] for r in chosen],
                          "y": [100 * r["top1_mean"] for r in chosen]}}


def rate_distortion_study(settings: StudySettings, *, spc: Sequence[int] | str = (10, 50),
                    bits: Sequence[int] | str = (2, 3, 4, 6, 8), quantizer: str = "apot", include_full: bool = False,
                    progress: Progress | None = None) -> StudyResult:
    """Run (or resume) the rate-distortion study and write its outputs into ``settings.out``.

    Args:
        settings: the common study settings (data, out, runs, device, seed, ...).
        spc: samples per class of the grid (>= 1).
        bits: bits per element of the grid (1..8).
        quantizer: quantizer in the loop (``apot``, ``uniform``, ``fsq``, or ``ptq`` for
            quantizing once after distillation).
        include_full: also evaluate the full training split at 32 bits and quantized to 8.
        progress: called with one line per point.

    Returns:
        a :class:`~beamsim.experiments.studies.outputs.StudyResult` (tables ``rate_distortion``
        and ``sweet_spots``, figure ``rate_distortion``).
    """
    spcs = parse_int_list(spc, "--spc", 1)
    bit_list = parse_int_list(bits, "--bits", 1, 8)
    if quantizer not in ("apot", "uniform", "fsq", "ptq"):
        raise ValueError(f"unknown quantizer {quantizer!r} for the rate-distortion grid: use apot, uniform, fsq or ptq")
    if quantizer == "fsq" and min(bit_list) < 2:
        raise ValueError("the fsq quantizer needs --bits >= 2")
    ctx = StudyContext(settings, progress)
    records = run_points(ctx, _points(ctx, spcs, bit_list, quantizer, include_full))
    rows = [flat_row(r) for r in records]
    spots = sweet_spots([r for r in rows if r["kind"] == "distilled"])
    best = {s["name"] for s in spots if s.get("name")}
    rows = [_with_mark(row, row["name"] in best) for row in rows]
    spot_rows = [{"budget_bits": s["budget"], "budget": format_bits(s["budget"]), "name": s.get("name"),
                  "spc": s.get("spc"), "bits": s.get("bits"), "payload_bits": s.get("payload_bits"),
                  "top1_mean": s.get("top1_mean"), "top1_std": s.get("top1_std"),
                  "compression_ratio": s.get("compression_ratio")} for s in spots]
    objective = settings.base_config().objective
    figure = _figure(rows, spots, quantizer, objective)
    return finish(ctx, "rate-distortion", records, {"rate_distortion": rows, "sweet_spots": spot_rows},
                  {"rate_distortion": figure},
                  settings={"spc": list(spcs), "bits": list(bit_list), "quantizer": quantizer,
                            "include_full": include_full})

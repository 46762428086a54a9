"""What a study writes: one CSV per table, one PNG per figure, one JSON document.

:func:`flat_row` turns a point record (:func:`~beamsim.experiments.studies.runner.run_points`)
into a table row; :func:`finish` writes every table, figure and the study's JSON into its
output folder and returns the :class:`StudyResult`. Records are written atomically
(:mod:`beamsim.records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beamsim.experiments.studies.settings import KPIS, StudyContext
from beamsim.records import write_csv, write_json

__all__ = ["flat_row", "StudyResult", "finish"]


def flat_row(record: Mapping[str, Any], kpis: Iterable[str] = KPIS) -> dict[str, Any]:
    """One CSV row of a point record: its columns, sizes, KPI mean/std, times, command."""
    info = record["info"]
    ev = record["evaluation"]
    row: dict[str, Any] = {"name": record["name"], **record["columns"]}
    for key in ("num_samples", "payload_bits", "payload_bits_stored", "total_bits_stored", "file_bytes",
                "compression_ratio"):
        row[key] = info.get(key)
    for kpi in kpis:
        row[f"{kpi}_mean"] = ev[kpi]["mean"]
        row[f"{kpi}_std"] = ev[kpi]["std"]
    row["runs"] = ev["runs"]
    row["epochs"] = ev["epochs"]
    row["cached"] = record.get("cached", False)
    for key, value in record.get("seconds", {}).items():
        row[key] = value
    row["train_file"] = record["train_file"]
    row["command"] = record["command"]
    return row


@dataclass
class StudyResult:
    """What a study produced.

    Attributes:
        study: its name (``rate-distortion``, ``imbalance``, ``baselines``).
        out: the output folder.
        settings: the settings that matter for its numbers (plain values).
        points: one record per point (see :func:`run_points`).
        tables: table name -> rows (each written as ``<out>/<name>.csv``).
        figures: figure name -> the data it draws (each drawn as ``<out>/<name>.png``).
        report: further study-specific facts (e.g. classes short of spc).
        files: every file written.
    """

    study: str
    out: Path
    settings: dict[str, Any]
    points: list[dict]
    tables: dict[str, list[dict]]
    figures: dict[str, dict]
    report: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def cached(self) -> int:
        return sum(1 for p in self.points if p.get("cached"))

    @property
    def computed(self) -> int:
        return len(self.points) - self.cached

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "out": str(self.out), "settings": self.settings,
                "points_total": len(self.points), "points_cached": self.cached, "points_computed": self.computed,
                "report": self.report, "tables": self.tables, "figures": self.figures,
                "points": self.points, "files": [str(f) for f in self.files]}


def finish(ctx: StudyContext, study: str, points: list[dict], tables: dict[str, list[dict]],
           figures: dict[str, dict], report: Mapping[str, Any] | None = None,
           settings: Mapping[str, Any] | None = None,
           columns: Mapping[str, Sequence[str]] | None = None) -> StudyResult:
    """Write every table (CSV), figure (PNG) and the study JSON into the output folder.

    Args:
        columns: column order of some tables (default: every key of its rows, first seen).
    """
    from beamsim.experiments.studies.plots import draw_figure

    s = ctx.settings
    common = {"data": str(s.data), "data_sha256": ctx.data_sha256, "encoding": s.encoding, "runs": s.runs,
              "epochs": s.epochs, "iterations": s.iterations, "objective": s.base_config().objective,
              "seed": s.seed, "device": str(ctx.device), "model": s.model,
              "train_samples": len(ctx.train), "full_set_bits": ctx.full_bits}
    result = StudyResult(study=study, out=ctx.out, settings={**common, **dict(settings or {})}, points=points,
                         tables=tables, figures=figures, report=dict(report or {}))
    for name, rows in tables.items():
        result.files.append(write_csv(ctx.out / f"{name}.csv", rows, (columns or {}).get(name)))
    for name, data in figures.items():
        path = ctx.out / f"{name}.png"
        data["png"] = str(path)
        result.files.append(draw_figure(data, path))
    json_path = ctx.out / f"{study.replace('-', '_')}.json"
    result.files.append(json_path)
    write_json(json_path, result.to_dict())
    return result

"""The point runner: run (or load) every point of a study, in order, resumably.

A study is a list of :class:`Point` s. Each point names a
:class:`~beamsim.experiments.studies.sources.TrainingSource` and is evaluated with
:func:`beamsim.experiments.evaluate.evaluate` on the real test split.

Resuming. Every finished point is written to ``<out>/points/<name>-<key>.json``, where
``key`` hashes everything its numbers depend on: the data set's sha256, the input
encoding, the source's settings (the full resolved :class:`~beamsim.distill.DistillConfig`
and seed for a distillation) and the evaluation settings (runs, epochs, seed, model), plus
:data:`~beamsim.experiments.studies.settings.CACHE_VERSION`. A rerun finds the file and
skips the point (reported as cached). Every point records the shell command that
reproduces it (:mod:`~beamsim.experiments.studies.commands`).
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beamsim.experiments.studies.commands import chain, evaluate_command
from beamsim.experiments.studies.settings import CACHE_VERSION, StudyContext, settings_hash
from beamsim.experiments.studies.sources import TrainingSource
from beamsim.records import write_json

__all__ = ["Point", "run_points", "run_point"]


@dataclass(frozen=True)
class Point:
    """One point of a study.

    Attributes:
        name: unique within the study; a file-name part (``spc10-b4``).
        title: what the progress line calls it (``spc 10, 4 bits``).
        source: how its training set is made.
        columns: the study's own columns for this point (``{"spc": 10, "bits": 4}``).
    """

    name: str
    title: str
    source: TrainingSource
    columns: Mapping[str, Any] = field(default_factory=dict)

    def key(self, ctx: StudyContext) -> str:
        """Hash of everything the point's numbers depend on."""
        return settings_hash({"cache_version": CACHE_VERSION, "data_sha256": ctx.data_sha256,
                              "encoding": ctx.settings.encoding, "source": self.source.settings(ctx),
                              "evaluation": ctx.settings.evaluation_settings()})

    def record_path(self, ctx: StudyContext) -> Path:
        """``<out>/points/<name>-<key>.json``: where the point's record is written."""
        return ctx.points_dir / f"{self.name}-{self.key(ctx)[:12]}.json"


def _load_record(path: Path, key: str) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key or "evaluation" not in record:
        return None
    return record


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:,.0f} s"


def _pct(stats: Mapping[str, float]) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f} %"


def run_points(ctx: StudyContext, points: Sequence[Point]) -> list[dict]:
    """Run (or load) every point, in order; one progress line per point.

    Returns:
        one record per point (the content of its JSON file, with ``cached`` True when it
        was loaded rather than computed).
    """
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ValueError(f"point names must be unique: {names}")
    records = []
    total = len(points)
    for i, point in enumerate(points, 1):
        key = point.key(ctx)
        path = point.record_path(ctx)
        record = _load_record(path, key) if path.exists() else None
        prefix = f"[{i}/{total}] {point.title}"
        if record is not None:
            # the numbers depend only on the key; the columns belong to the study asking
            # (a point shared by two studies was written with the other study's columns)
            record.update(cached=True, title=point.title, columns=dict(point.columns))
            ctx.progress(f"{prefix}: cached (top-1 {_pct(record['evaluation']['top1'])})")
        else:
            ctx.progress(f"{prefix}: running")
            record = run_point(ctx, point, key)
            write_json(path, record)
            record["cached"] = False
            spent = ", ".join(f"{k.removesuffix('_s')} {_seconds(v)}" for k, v in record["seconds"].items())
            reused = ", reused distilled file" if record["reused_file"] else ""
            ctx.progress(f"{prefix}: top-1 {_pct(record['evaluation']['top1'])} ({spent}{reused})")
        records.append(record)
    return records


def run_point(ctx: StudyContext, point: Point, key: str) -> dict[str, Any]:
    """Make the point's training set, evaluate it, and return its record (not written)."""
    import beamsim.experiments.evaluate as evaluation

    s = ctx.settings
    made = point.source.make(ctx)
    start = time.perf_counter()
    result = evaluation.evaluate(made.train, s.data, model=s.model, runs=s.runs, epochs=s.epochs, device=ctx.device,
                                 seed=s.seed, encoding=made.encoding)  # type: ignore[arg-type]
    seconds = dict(made.seconds, evaluate_s=time.perf_counter() - start)
    doc = result.to_dict()
    evaluation_doc = {name: doc[name] for name in result.summary}
    evaluation_doc.update({k: doc[k] for k in ("runs", "epochs", "seed", "train_samples", "test_samples",
                                               "model", "encoding", "seconds_per_run", "per_run", "reference")})
    return {
        "name": point.name, "title": point.title, "key": key, "cache_version": CACHE_VERSION,
        "columns": dict(point.columns), "source": point.source.settings(ctx),
        "train_file": str(made.train), "reused_file": made.reused,
        "command": chain(made.command, evaluate_command(s, made.train, made.encoding)), "info": made.info,
        "evaluation": evaluation_doc, "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "device": str(ctx.device), "data": str(s.data), "data_sha256": ctx.data_sha256,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }

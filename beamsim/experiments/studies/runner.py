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

A point file is checked before it is used (:func:`record_problem`): at most
:data:`MAX_POINT_BYTES` read, UTF-8 JSON, the point's own key, name, data checksum, cache
version and source settings, and every field the tables and figures read of the type they
need. A file that fails is never used and never stops the study: the point is computed again
and the file replaced, with one progress line (stderr) naming the file and the reason. The
cache holds only what the study can recompute from its key, so computing it again is the
fix; a refusal would only ask the user to delete the file by hand. (The expert cache of
:mod:`beamsim.distill.experts` does the same.)
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beamsim.experiments.studies.commands import chain, evaluate_command
from beamsim.experiments.studies.settings import CACHE_VERSION, KPIS, StudyContext, settings_hash
from beamsim.experiments.studies.sources import TrainingSource
from beamsim.fileio import read_text_bounded
from beamsim.records import to_jsonable, write_json

__all__ = ["Point", "run_points", "run_point", "record_problem", "MAX_POINT_BYTES"]

#: The largest point file read [bytes]: 16 MiB (a point record is a few KiB).
MAX_POINT_BYTES = 16 * 2**20
#: Fields of a record's ``info`` that the tables and figures read: a number or null each.
_INFO_NUMBERS = ("payload_bits", "payload_bits_stored", "total_bits_stored", "file_bytes", "compression_ratio")


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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def record_problem(record: Any, point: "Point", key: str, ctx: StudyContext) -> str | None:
    """Why ``record`` (a parsed point file) cannot stand for ``point``; None when it can.

    It must be the record of this point (its ``key``, ``name``, ``data_sha256``,
    ``cache_version`` and ``source`` settings), and every field that the study's tables,
    figures and progress lines read must have the type they need.
    """
    if not isinstance(record, dict):
        return f"it holds a JSON {type(record).__name__}, not a point record"
    wanted = {"key": key, "name": point.name, "data_sha256": ctx.data_sha256, "cache_version": CACHE_VERSION}
    for field_name, value in wanted.items():
        if record.get(field_name) != value:
            return (f"its {field_name} is {str(record.get(field_name))[:40]!r}, not {str(value)[:40]!r} "
                    "(the point its file name stands for)")
    if record.get("source") != to_jsonable(point.source.settings(ctx)):
        return "its recorded source settings are not the point's"
    evaluation, info = record.get("evaluation"), record.get("info")
    if not isinstance(evaluation, dict) or not isinstance(info, dict):
        return "'evaluation' and 'info' must be JSON objects"
    for kpi in KPIS:
        stats = evaluation.get(kpi)
        if not (isinstance(stats, dict) and _number(stats.get("mean")) and _number(stats.get("std"))):
            return f"evaluation.{kpi} must hold a finite mean and std"
    for field_name in ("runs", "epochs"):
        if isinstance(evaluation.get(field_name), bool) or not isinstance(evaluation.get(field_name), int):
            return f"evaluation.{field_name} must be an integer"
    if isinstance(info.get("num_samples"), bool) or not isinstance(info.get("num_samples"), int):
        return "info.num_samples must be an integer"
    for field_name in _INFO_NUMBERS:
        if info.get(field_name) is not None and not _number(info.get(field_name)):
            return f"info.{field_name} must be a number or null"
    if not (isinstance(record.get("train_file"), str) and isinstance(record.get("command"), str)
            and isinstance(record.get("reused_file"), bool)):
        return "train_file and command must be strings, reused_file true or false"
    seconds = record.get("seconds")
    if not (isinstance(seconds, dict) and all(_number(v) for v in seconds.values())):
        return "seconds must map names to numbers"
    return None


def _load_record(path: Path, point: "Point", key: str, ctx: StudyContext) -> tuple[dict | None, str | None]:
    """(the point's record, None), or (None, why the file at ``path`` cannot be used)."""
    try:
        text = read_text_bounded(path, MAX_POINT_BYTES, "point file", ValueError)
        record = json.loads(text)
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    except ValueError as exc:  # over the bound, not UTF-8, unreadable, or not JSON
        reason = " ".join(str(exc).split())
        if reason.startswith(f"point file {path} "):
            return None, reason.removeprefix(f"point file {path} ").split(";")[0]
        return None, f"not valid JSON ({reason[:120]})"
    problem = record_problem(record, point, key, ctx)
    return (None, problem) if problem else (record, None)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:,.0f} s"


def _pct(stats: Mapping[str, float]) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f} %"


def run_points(ctx: StudyContext, points: Sequence[Point]) -> list[dict]:
    """Run (or load) every point; one progress line per point.

    With ``executor = "serial"`` the points run in order, here. With ``"ray"`` the cached points
    are loaded first and the others run as Ray tasks (:mod:`beamsim.distributed`); each record
    is written by this process as its task finishes, so an interrupted study resumes from the
    points already done, and no two tasks ever write one point file.

    Returns:
        one record per point, in the given order (the content of its JSON file, with ``cached``
        True when it was loaded rather than computed).
    """
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ValueError(f"point names must be unique: {names}")
    records: list[dict | None] = []
    todo: list[tuple[int, str]] = []  # (index, key) of the points left for Ray
    total = len(points)
    for i, point in enumerate(points):
        key, path = point.key(ctx), point.record_path(ctx)
        record, problem = _load_record(path, point, key, ctx) if os.path.lexists(path) else (None, None)
        prefix = f"[{i + 1}/{total}] {point.title}"
        if problem is not None:
            ctx.progress(f"{prefix}: not using {path}: {problem}; computing the point again (the file will be replaced)")
        if record is not None:
            # the numbers depend only on the key; the columns belong to the study asking
            # (a point shared by two studies was written with the other study's columns)
            record.update(cached=True, title=point.title, columns=dict(point.columns))
            ctx.progress(f"{prefix}: cached (top-1 {_pct(record['evaluation']['top1'])})")
        elif ctx.settings.executor == "serial":
            ctx.progress(f"{prefix}: running")
            record = _finished(ctx, point, prefix, run_point(ctx, point, key))
        else:
            todo.append((i, key))
        records.append(record)
    if todo:
        _run_on_ray(ctx, points, todo, records)
    return records  # type: ignore[return-value]


def _finished(ctx: StudyContext, point: Point, prefix: str, record: dict) -> dict:
    """Write a computed point's record and report it."""
    write_json(point.record_path(ctx), record)
    record["cached"] = False
    spent = ", ".join(f"{k.removesuffix('_s')} {_seconds(v)}" for k, v in record["seconds"].items())
    reused = ", reused distilled file" if record["reused_file"] else ""
    ctx.progress(f"{prefix}: top-1 {_pct(record['evaluation']['top1'])} ({spent}{reused})")
    return record


def _silent(line: str) -> None:
    """The progress of a point inside a Ray task: the driver reports the point when it is done."""


def _point_task(ctx: StudyContext, point: Point, key: str) -> dict:
    """One Ray task: a point's record (not written; the driver writes it)."""
    return run_point(ctx, point, key)


def _run_on_ray(ctx: StudyContext, points: Sequence[Point], todo: list[tuple[int, str]], records: list) -> None:
    from beamsim.distributed import TaskResources, ray_session, run_tasks

    s = ctx.settings
    total = len(points)
    resources = TaskResources.for_device(str(s.device), s.cpus_per_task)
    worker_ctx = copy.copy(ctx)
    worker_ctx.progress = _silent
    ctx.progress(f"{len(todo)} point(s) to compute as Ray tasks")
    with ray_session(s.address) as ray:
        def done(index: int, record: dict) -> None:
            i = todo[index][0]
            records[i] = _finished(ctx, points[i], f"[{i + 1}/{total}] {points[i].title}", record)

        run_tasks(ray, _point_task, [(worker_ctx, points[i], key) for i, key in todo], resources, done)


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

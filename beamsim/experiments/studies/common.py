"""What every study shares: settings, training sources, the resumable point runner, outputs.

A study is a list of :class:`Point` s. Each point names a :class:`TrainingSource` (how its
training set is made: the real training split, a QuADD distillation, a post-training
quantization of a distilled set, ...) and is evaluated with
:func:`beamsim.experiments.evaluate.evaluate` on the real test split.

Resuming. Every finished point is written to ``<out>/points/<name>-<key>.json``, where
``key`` hashes everything its numbers depend on: the data set's sha256, the input
encoding, the source's settings (the full resolved :class:`~beamsim.distill.DistillConfig`
and seed for a distillation) and the evaluation settings (runs, epochs, seed, model), plus
:data:`CACHE_VERSION`. A rerun finds the file and skips the point (reported as cached).
Distilled files are kept beside it, named by the hash of their own settings
(``<out>/points/<slug>-<hash>.h5``, with the resolved config as ``.toml``), so a point
whose evaluation crashed reuses its distilled file, and two points that need the same
distillation (``distill`` and ``distill-ptq`` in the baselines study) run it once. A
distillation interrupted half-way resumes from its checkpoint (``.h5.ckpt.pt``).

Every point records the shell command that reproduces it (``beamsim distill ... &&
beamsim evaluate ...``). Payload bits follow the papers' accounting, ``N x d x b``, and
compression ratios are the full training split at 32 bits over that payload; the bits
actually stored (constant features once, plus thresholds and class counts) and the file
size are recorded beside them.

Device and seed: every function takes ``device=`` (in :class:`StudySettings`) and a seed;
nothing here seeds the global RNG.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import math
import shlex
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from beamsim.fileio import atomic_path

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = [
    "CACHE_VERSION", "KPIS", "StudySettings", "StudyContext", "StudyResult", "Point", "Made",
    "TrainingSource", "RealSource", "DistillSource", "PtqSource", "PatchPtqSource", "full_ptq_source", "FULL_PTQ_BITS", "run_points",
    "finish", "flat_row", "write_csv", "write_json", "settings_hash", "parse_int_list", "Progress",
]

#: Bump when a change in the code changes the numbers of a finished point.
CACHE_VERSION = 1
#: KPIs carried into the tables (mean and std of each; fractions, RSRP loss in dB).
KPIS: tuple[str, ...] = ("top1", "top3", "within_1db", "macro_f1", "rsrp_loss_db")
#: Bits of the post-training-quantized full training split (the papers' 8-bit reference).
FULL_PTQ_BITS = 8
#: ``progress(line)``: one human-readable line per event (the CLI prints it on stderr).
Progress = Callable[[str], None]

_ENCODINGS = ("attenuation", "relative")


def settings_hash(settings: Mapping[str, Any]) -> str:
    """sha256 (hex) of a settings mapping, independent of key order.

    >>> settings_hash({"a": 1, "b": [2, 3]}) == settings_hash({"b": [2, 3], "a": 1})
    True
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_int_list(text: str | Sequence[int], name: str, lo: int = 1, hi: int | None = None) -> tuple[int, ...]:
    """``"2,3,4"`` -> ``(2, 3, 4)``: distinct integers in ``[lo, hi]``, in the given order.

    >>> parse_int_list("2, 4,8", "--bits", 1, 8)
    (2, 4, 8)

    Raises:
        ValueError: an empty list, a non-integer, a repeated or out-of-range value (the
            message names the option).
    """
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    if not items or any(item == "" for item in items):
        raise ValueError(f"{name} must be a comma-separated list of integers, e.g. 2,4,8 (got {text!r})")
    values = []
    for item in items:
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {item!r} is not an integer (give a list such as 2,4,8)") from None
        if isinstance(item, float) and item != value:
            raise ValueError(f"{name}: {item!r} is not an integer")
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise ValueError(f"{name}: {value} is out of range (use {bound})")
        if value in values:
            raise ValueError(f"{name}: {value} is given twice")
        values.append(value)
    return tuple(values)


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class StudySettings:
    """Settings every study shares (the CLI's common options).

    Attributes:
        data: the beam data-set file (its train split is distilled, its test split tests).
        out: output folder (points, CSV, JSON, PNG).
        runs: evaluation runs per point (mean and std over them).
        epochs: evaluation epochs (None: :func:`~beamsim.experiments.evaluate.default_epochs`
            of each training set's size).
        iterations: distillation iterations (None: the config's).
        objective: distillation objective ``tm | dm | dc`` (None: the config's).
        encoding: beam-map input encoding, ``attenuation`` or ``relative``.
        config: base distillation settings (None: ``default_config("beam", objective=...)``,
            with the objective's own shipped defaults); every point starts from it.
        seed: seed of every distillation and evaluation.
        device: ``auto | cpu | cuda`` or a ``torch.device`` (None: the beamsim config's).
        cache_dir: expert-trajectory cache (None: QuADD's default).
        model: evaluation network.
    """

    data: Path
    out: Path
    runs: int = 3
    epochs: int | None = None
    iterations: int | None = None
    objective: str | None = None
    encoding: str = "attenuation"
    config: DistillConfig | None = None
    seed: int = 0
    device: str | torch.device | None = None
    cache_dir: Path | None = None
    model: str = "beamcnn"

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "out", Path(self.out))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if isinstance(self.runs, bool) or not isinstance(self.runs, int) or self.runs < 1:
            raise ValueError(f"--runs must be an integer >= 1, not {self.runs!r}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"--epochs must be an integer >= 1, not {self.epochs!r}")
        if self.iterations is not None and (not isinstance(self.iterations, int) or self.iterations < 0):
            raise ValueError(f"--iterations must be an integer >= 0, not {self.iterations!r}")
        if self.objective is not None and self.objective not in ("tm", "dm", "dc"):
            raise ValueError(f"unknown objective {self.objective!r} for a study: use tm, dm or dc")
        if self.encoding not in _ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}: use attenuation or relative")

    def base_config(self) -> DistillConfig:
        """The distillation settings every point starts from (objective and iterations applied)."""
        from beamsim.distill.config import default_config

        if self.config is None:  # the objective's own shipped defaults (e.g. trajectory matching's step)
            return default_config("beam", objective=self.objective, iterations=self.iterations)
        return self.config.replace(objective=self.objective, iterations=self.iterations)

    def distill_config(self, **overrides: Any) -> DistillConfig:
        """:meth:`base_config` with ``overrides``; ``objective = "none"`` runs 0 iterations,
        ``quantizer = "none"`` stores 32 bits (as ``beamsim distill`` does)."""
        cfg = self.base_config()
        if overrides.get("quantizer") == "none":
            overrides = {**overrides, "bits": 32}
        cfg = cfg.replace(**overrides)
        if cfg.objective == "none":
            cfg = cfg.replace(iterations=0)
        return cfg

    def evaluation_settings(self) -> dict[str, Any]:
        return {"runs": self.runs, "epochs": self.epochs, "seed": self.seed, "model": self.model}


class StudyContext:
    """A study's run-time state: settings, the loaded training split and where files go.

    Attributes:
        settings: the :class:`StudySettings`.
        train: the ``BeamDataset`` train split (encoded as ``settings.encoding``).
        data_sha256: the data set's checksum.
        class_counts: [C] int64 training samples per class.
        elements: elements per sample ``d`` (64 for one 8 x 8 channel).
        full_bits: the full training split at 32 bits, ``N x d x 32``.
        device: the resolved ``torch.device``.
        points_dir: ``<out>/points``.
    """

    def __init__(self, settings: StudySettings, progress: Progress | None = None) -> None:
        from beamsim.config import resolve_device
        from beamsim.dataset import BeamDataset

        self.settings = settings
        self.progress: Progress = progress or (lambda line: None)
        self.device = resolve_device(settings.device)
        self.train = BeamDataset(settings.data, "train", encoding=settings.encoding)  # type: ignore[arg-type]
        self.data_sha256 = str(self.train.checksum)
        self.num_classes = int(self.train.num_classes)
        self.class_counts = torch.bincount(self.train.labels, minlength=self.num_classes)
        self.elements = int(math.prod(self.train.input_shape))
        self.full_bits = len(self.train) * self.elements * 32
        self.out = settings.out
        self.points_dir = settings.out / "points"

    def file_stem(self, slug: str, source_settings: Mapping[str, Any]) -> str:
        """``<slug>-<hash>``: the name of a source's files in :attr:`points_dir`."""
        key = settings_hash({"cache_version": CACHE_VERSION, "data_sha256": self.data_sha256,
                             "encoding": self.settings.encoding, "source": source_settings})
        return f"{slug}-{key[:12]}"

    def command_path(self, path: Path) -> str:
        return shlex.quote(str(path))


# --------------------------------------------------------------------------- sources
@dataclass
class Made:
    """A training set ready for evaluation.

    Attributes:
        train: the file to train on (a distilled file, or the data set for its train split).
        info: sizes: ``num_samples``, ``payload_bits`` (N d b), ``payload_bits_stored``,
            ``total_bits_stored`` (stored payload + overhead), ``file_bytes``,
            ``compression_ratio`` (full 32-bit set / payload_bits), ``compression_ratio_stored``.
        command: shell command that makes ``train`` ("" for the data set itself).
        seconds: wall times of the steps [s].
        reused: the file was already there (made by an earlier run or another point).
        encoding: encoding to evaluate with (None: the distilled file's own).
    """

    train: Path
    info: dict[str, Any]
    command: str
    seconds: dict[str, float] = field(default_factory=dict)
    reused: bool = False
    encoding: str | None = None


class TrainingSource:
    """How a point's training set is made. Subclass it to add a new kind of method.

    A subclass implements :meth:`settings` (everything the training set depends on, as
    plain JSON values: it is hashed into the cache keys), :meth:`slug` (a short file-name
    part) and :meth:`make` (make or reuse the set, return a :class:`Made`).
    """

    kind = "source"

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        raise NotImplementedError

    def slug(self, ctx: StudyContext) -> str:
        return self.kind

    def make(self, ctx: StudyContext) -> Made:
        raise NotImplementedError


def _distilled_info(ctx: StudyContext, path: Path, described: dict[str, Any] | None = None) -> dict[str, Any]:
    from beamsim.distill.container import describe

    d = describe(path) if described is None else described
    return {
        "num_samples": d["num_samples"],
        "payload_bits": d["payload_bits"],
        "payload_bits_stored": d["payload_bits_stored"],
        "total_bits_stored": d["total_bits_stored"],
        "file_bytes": d["file_bytes"],
        "compression_ratio": ctx.full_bits / d["payload_bits"],
        "compression_ratio_stored": ctx.full_bits / d["total_bits_stored"],
        "quantizer": d["quantizer"],
        "bits": d["bits"],
        "samples_per_class": d["samples_per_class"],
    }


class RealSource(TrainingSource):
    """The full real training split, float32 (``beamsim evaluate --train DATA``)."""

    kind = "real"

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        return {"kind": self.kind}

    def slug(self, ctx: StudyContext) -> str:
        return "full-f32"

    def make(self, ctx: StudyContext) -> Made:
        x = ctx.train.inputs
        constant = int((x == x[:1]).reshape(x.shape[0], -1).all(dim=0).sum())
        n = len(ctx.train)
        stored = n * (ctx.elements - constant) * 32
        info = {"num_samples": n, "payload_bits": ctx.full_bits, "payload_bits_stored": stored,
                "total_bits_stored": stored, "file_bytes": None, "compression_ratio": 1.0,
                "compression_ratio_stored": ctx.full_bits / stored if stored else None,
                "quantizer": "none", "bits": 32,
                "samples_per_class": [int(c) for c in ctx.class_counts]}
        return Made(train=ctx.settings.data, info=info, command="", encoding=ctx.settings.encoding)


class DistillSource(TrainingSource):
    """A QuADD run (``beamsim distill``) with ``overrides`` on the study's base config.

    Args:
        name: file-name part of its files (default: objective, quantizer, bits, spc, init).
        overrides: :class:`~beamsim.distill.DistillConfig` fields (spc, bits, quantizer,
            objective, init, replacement, ...).
    """

    kind = "distill"

    def __init__(self, name: str | None = None, **overrides: Any) -> None:
        self.name = name
        self.overrides = dict(overrides)

    def config(self, ctx: StudyContext) -> DistillConfig:
        """The resolved settings of this run."""
        return ctx.settings.distill_config(**self.overrides)

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        from beamsim.distill.quant import quantizer_class

        cfg = self.config(ctx)
        out = {"kind": self.kind, "config": cfg.as_dict(), "seed": ctx.settings.seed}
        if cfg.quantizer != "none" and quantizer_class(cfg.quantizer).version != 1:
            out["quantizer_version"] = quantizer_class(cfg.quantizer).version  # its older points re-run
        return out

    def slug(self, ctx: StudyContext) -> str:
        if self.name:
            return self.name
        cfg = self.config(ctx)
        quant = "f32" if cfg.quantizer == "none" else f"{cfg.quantizer}{cfg.bits}"
        repl = "-repl" if cfg.replacement else ""
        return f"{cfg.objective}-{quant}-spc{cfg.spc}-{cfg.init}{repl}"

    def paths(self, ctx: StudyContext) -> tuple[Path, Path]:
        """(distilled file, its resolved config as TOML)."""
        stem = ctx.file_stem(self.slug(ctx), self.settings(ctx))
        return ctx.points_dir / f"{stem}.h5", ctx.points_dir / f"{stem}.toml"

    def command(self, ctx: StudyContext, out: Path | None = None) -> str:
        """The ``beamsim distill`` command that writes this set (to ``out``, default its own path)."""
        cfg = self.config(ctx)
        own, toml = self.paths(ctx)
        out = own if out is None else out
        s = ctx.settings
        q = ctx.command_path
        parts = ["beamsim distill", f"--data {q(s.data)}", f"--config {q(toml)}", f"--spc {cfg.spc}"]
        if cfg.quantizer != "none":
            parts.append(f"--bits {cfg.bits}")
        parts += [f"--objective {cfg.objective}", f"--quantizer {cfg.quantizer}", f"--init {cfg.init}",
                  "--replacement" if cfg.replacement else "--no-replacement", f"--iterations {cfg.iterations}",
                  f"--encoding {s.encoding}", f"--seed {s.seed}"]
        if s.cache_dir is not None:
            parts.append(f"--cache-dir {q(s.cache_dir)}")
        parts.append(f"--out {q(out)}")
        return " ".join(parts)

    def make(self, ctx: StudyContext) -> Made:
        out, toml = self.paths(ctx)
        command = self.command(ctx)
        if out.exists():
            return Made(train=out, info=_distilled_info(ctx, out), command=command, reused=True)
        from beamsim.distill.quadd import CheckpointMismatchError, QuADD

        cfg = self.config(ctx)
        with atomic_path(toml, suffix=".toml.tmp") as tmp:
            tmp.write_text(cfg.to_toml())
        checkpoint = out.with_name(out.name + ".ckpt.pt")
        s = ctx.settings
        quadd = QuADD(cfg, device=ctx.device, seed=s.seed, cache_dir=s.cache_dir, checkpoint_path=checkpoint)
        try:
            resume = quadd.check_resume(ctx.train)
        except CheckpointMismatchError:
            checkpoint.unlink(missing_ok=True)
            resume = False
        if resume:
            ctx.progress(f"  resuming the distillation from {checkpoint}")
        start = time.perf_counter()
        quadd.fit(ctx.train, resume=resume)
        quadd.save(out, source_sha256=ctx.data_sha256, source_path=str(s.data), source_samples=len(ctx.train),
                   encoding=s.encoding)
        checkpoint.unlink(missing_ok=True)
        seconds = {"distill_s": time.perf_counter() - start}
        return Made(train=out, info=_distilled_info(ctx, out), command=command, seconds=seconds)


def full_ptq_source(max_class_count: int, bits: int = 8) -> DistillSource:
    """The full training split quantized once (min-max uniform PTQ at ``bits``).

    ``beamsim distill --objective none --quantizer ptq --spc <largest class>
    --no-replacement`` keeps every real sample (no validation hold-out without an objective).
    """
    return DistillSource(name=f"full-ptq{bits}", objective="none", quantizer="ptq", bits=bits, init="real",
                         replacement=False, spc=int(max_class_count))


class PtqSource(TrainingSource):
    """A float32 distillation quantized once afterwards (min-max uniform PTQ at ``bits``).

    It reuses ``base``'s file (distilling it when missing) and writes what
    ``beamsim distill --quantizer ptq --bits <bits>`` with the same settings writes: QuADD
    runs the same full-precision loop for ``ptq`` and ``none`` and quantizes the kept set
    once at the end.

    Args:
        base: a :class:`DistillSource` with ``quantizer = "none"``.
        bits: 1..8.
    """

    kind = "ptq"

    def __init__(self, base: DistillSource, bits: int) -> None:
        if base.overrides.get("quantizer") != "none":
            raise ValueError("PtqSource needs a float32 base distillation (quantizer='none')")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
            raise ValueError(f"post-training quantization bits must be 1..8, not {bits!r}")
        self.base = base
        self.bits = bits

    def equivalent(self) -> DistillSource:
        """The one ``beamsim distill`` run that writes the same file."""
        return DistillSource(**{**self.base.overrides, "quantizer": "ptq", "bits": self.bits})

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        return {"kind": self.kind, "base": self.base.settings(ctx), "bits": self.bits}

    def slug(self, ctx: StudyContext) -> str:
        return f"{self.base.slug(ctx)}-ptq{self.bits}"

    def make(self, ctx: StudyContext) -> Made:
        from beamsim.distill.container import Provenance, read, save
        from beamsim.distill.quant import build_quantizer

        same = self.equivalent()
        out, toml = ctx.points_dir / f"{ctx.file_stem(self.slug(ctx), self.settings(ctx))}.h5", same.paths(ctx)[1]
        command = same.command(ctx, out=out)
        if out.exists():
            return Made(train=out, info=_distilled_info(ctx, out), command=command, reused=True)
        base = self.base.make(ctx)
        start = time.perf_counter()
        data = read(base.train)
        quantizer = build_quantizer("ptq", bits=self.bits)
        quantizer.initialize(data.x)
        cfg = same.config(ctx)
        with atomic_path(toml, suffix=".toml.tmp") as tmp:
            tmp.write_text(cfg.to_toml())
        attrs = data.attrs
        extra = tomllib.loads(str(attrs.get("settings") or ""))
        extra["config"] = cfg.as_dict()
        save(out, data.x, data.y, quantizer, num_classes=int(attrs["num_classes"]),
             provenance=Provenance(source_sha256=ctx.data_sha256, source_path=str(ctx.settings.data),
                                   source_samples=len(ctx.train), encoding=ctx.settings.encoding,
                                   objective=cfg.objective, spc=cfg.spc, seed=ctx.settings.seed),
             settings=extra)
        seconds = dict(base.seconds)
        seconds["ptq_s"] = time.perf_counter() - start
        return Made(train=out, info=_distilled_info(ctx, out), command=command, seconds=seconds)


class PatchPtqSource(TrainingSource):
    """A float32 distillation compressed by the patch-wise compressor (``beamsim compress``).

    The byte budget is what a QuADD file of the same set stores at ``budget_bits``: the
    packed codes of its varying elements, ``ceil(N (d - k) b / 8)`` bytes for ``N`` samples
    with ``k`` constant elements (73,104 bytes for 3,046 beam maps with 32 masked beams at
    6 bits). Within it the compressor picks samples per class and parameter groups, adding
    real rows of the training split when the budget holds more than the distilled set
    (``extra``). The row's ``payload_bits`` is the real coded payload (group indices,
    parameters, codes, constants), not the papers' ``N d b``, which leaves out the
    parameters and group indices that dominate at 2 bits.

    Args:
        base: a :class:`DistillSource` with ``quantizer = "none"``.
        bits: bits per code of the compressor.
        budget_bits: the budget is the base set's packed payload at this many bits.
        groups: ``"auto"`` or a number of parameter groups.
        refine, entropy, extra: the compressor's ``--refine``, ``--entropy``, ``--extra``.
    """

    kind = "patch-ptq"

    def __init__(self, base: DistillSource, *, bits: int, budget_bits: int, groups: int | str = "auto",
                 refine: bool = True, entropy: bool = True, extra: bool = True) -> None:
        if base.overrides.get("quantizer") != "none":
            raise ValueError("PatchPtqSource needs a float32 base distillation (quantizer='none')")
        for name, value in (("bits", bits), ("budget_bits", budget_bits)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
                raise ValueError(f"patch-wise compression {name} must be 1..32, not {value!r}")
        self.base, self.bits, self.budget_bits = base, bits, budget_bits
        self.groups, self.refine, self.entropy, self.extra = groups, refine, entropy, extra

    def config(self, budget_bytes: int | None = None):
        """The compressor's :class:`~beamsim.distill.compress.CompressConfig`."""
        from beamsim.distill.compress import CompressConfig

        return CompressConfig(bits=self.bits, groups=self.groups, budget_bytes=budget_bytes, refine=self.refine,
                              entropy=self.entropy)

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        return {"kind": self.kind, "base": self.base.settings(ctx), "budget_bits": self.budget_bits,
                "config": self.config().as_dict(), "extra": self.extra, "seed": ctx.settings.seed}

    def slug(self, ctx: StudyContext) -> str:
        return f"{self.base.slug(ctx)}-patch{self.bits}-at{self.budget_bits}"

    def budget_bytes(self, base_file: Path) -> int:
        """The base set's packed payload at ``budget_bits`` bits, in bytes."""
        from beamsim.distill.container import describe

        d = describe(base_file)
        varying = d["elements_per_sample"] - d["constant_elements"]
        return math.ceil(d["num_samples"] * varying * self.budget_bits / 8)

    def make(self, ctx: StudyContext) -> Made:
        from beamsim.distill.compress import compress_file
        from beamsim.experiments.extra_rows import extra_rows

        base = self.base.make(ctx)
        budget = self.budget_bytes(base.train)
        out = ctx.points_dir / f"{ctx.file_stem(self.slug(ctx), self.settings(ctx))}.h5"
        q = ctx.command_path
        flag = {True: "--", False: "--no-"}
        command = " ".join([
            base.command, "&&", "beamsim compress", q(base.train), f"--bits {self.bits}", f"--groups {self.groups}",
            f"--budget-bytes {budget}", f"{flag[self.refine]}refine", f"{flag[self.entropy]}entropy",
            f"{flag[self.extra]}extra"] + ([f"--source {q(ctx.settings.data)}"] if self.extra else [])
            + [f"--seed {ctx.settings.seed}", f"--out {q(out)}"])
        if out.exists():
            return Made(train=out, info=self._info(ctx, out), command=command, reused=True)
        start = time.perf_counter()
        compress_file(base.train, out, self.config(budget),
                      extra_rows=extra_rows(base.train, ctx.settings.data) if self.extra else None,
                      seed=ctx.settings.seed, device=ctx.device)
        seconds = dict(base.seconds)
        seconds["compress_s"] = time.perf_counter() - start
        return Made(train=out, info=self._info(ctx, out), command=command, seconds=seconds)

    def _info(self, ctx: StudyContext, path: Path) -> dict[str, Any]:
        from beamsim.distill.container import describe

        d = describe(path)
        payload = 8 * d["bytes"]["payload"]
        info = _distilled_info(ctx, path, d)
        info.update(payload_bits=payload, payload_bits_stored=payload, compression_ratio=ctx.full_bits / payload,
                    budget_bytes=d["budget_bytes"], groups=d["groups"], codec=d["codec"], entropy=d["entropy"])
        return info


# --------------------------------------------------------------------------- points
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
        return ctx.points_dir / f"{self.name}-{self.key(ctx)[:12]}.json"


def _evaluate_command(ctx: StudyContext, made: Made) -> str:
    s = ctx.settings
    parts = ["beamsim evaluate", f"--train {ctx.command_path(made.train)}", f"--test {ctx.command_path(s.data)}"]
    if made.encoding is not None:
        parts.append(f"--encoding {made.encoding}")
    if s.model != "beamcnn":
        parts.append(f"--model {s.model}")
    parts += [f"--runs {s.runs}"] + ([f"--epochs {s.epochs}"] if s.epochs is not None else []) + [f"--seed {s.seed}",
                                                                                                  "--json"]
    return " ".join(parts)


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
    import beamsim.experiments.evaluate as evaluation

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
            records.append(record)
            continue
        ctx.progress(f"{prefix}: running")
        made = point.source.make(ctx)
        start = time.perf_counter()
        result = evaluation.evaluate(made.train, ctx.settings.data, model=ctx.settings.model, runs=ctx.settings.runs,
                                     epochs=ctx.settings.epochs, device=ctx.device, seed=ctx.settings.seed,
                                     encoding=made.encoding)  # type: ignore[arg-type]
        seconds = dict(made.seconds, evaluate_s=time.perf_counter() - start)
        doc = result.to_dict()
        evaluation_doc = {name: doc[name] for name in result.summary}
        evaluation_doc.update({k: doc[k] for k in ("runs", "epochs", "seed", "train_samples", "test_samples",
                                                   "model", "encoding", "seconds_per_run", "per_run", "reference")})
        commands = [c for c in (made.command, _evaluate_command(ctx, made)) if c]
        record = {
            "name": point.name, "title": point.title, "key": key, "cache_version": CACHE_VERSION,
            "columns": dict(point.columns), "source": point.source.settings(ctx),
            "train_file": str(made.train), "reused_file": made.reused,
            "command": " && ".join(commands), "info": made.info, "evaluation": evaluation_doc,
            "seconds": {k: round(v, 3) for k, v in seconds.items()}, "device": str(ctx.device),
            "data": str(ctx.settings.data), "data_sha256": ctx.data_sha256,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_json(path, record)
        record["cached"] = False
        spent = ", ".join(f"{k.removesuffix('_s')} {_seconds(v)}" for k, v in seconds.items())
        ctx.progress(f"{prefix}: top-1 {_pct(evaluation_doc['top1'])} ({spent}"
                     f"{', reused distilled file' if made.reused and made.command else ''})")
        records.append(record)
    return records


# --------------------------------------------------------------------------- outputs
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


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as CSV atomically; columns: given, else every key in first-seen order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    with atomic_path(path, suffix=".csv.tmp") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return Path(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return str(obj)


def write_json(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write one JSON document atomically (NaN as null)."""
    with atomic_path(path, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(_jsonable(doc), indent=2) + "\n")
    return Path(path)


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

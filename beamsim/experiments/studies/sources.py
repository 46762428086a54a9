"""Training sources: how a point's training set is made.

A :class:`TrainingSource` says what its set depends on (:meth:`~TrainingSource.settings`,
hashed into the file names and the point's key), names its files
(:meth:`~TrainingSource.slug`) and makes or reuses the set (:meth:`~TrainingSource.make`,
returning a :class:`Made`). The built-in sources:

- :class:`RealSource`: the full real training split, float32;
- :class:`DistillSource`: a QuADD run, through :func:`beamsim.distill.distill_file` (what
  ``beamsim distill`` runs);
- :class:`PtqSource`: a float32 distillation quantized once afterwards;
- :class:`PatchPtqSource`: a float32 distillation through the patch-wise compressor
  (:func:`beamsim.distill.compress.compress_file`, what ``beamsim compress`` runs).

Distilled files are kept in ``<out>/points``, named by the hash of their own settings
(``<slug>-<hash>.h5``, with the resolved config as ``.toml``), so a point whose evaluation
crashed reuses its distilled file, and two points that need the same distillation (``distill``
and ``distill-ptq`` in the baselines study) run it once. A distillation interrupted half-way
resumes from its checkpoint (``.h5.ckpt.pt``); a checkpoint of other settings is deleted.

Payload bits follow the papers' accounting, ``N x d x b``, and compression ratios are the
full training split at 32 bits over that payload; the bits actually stored (constant
features once, plus thresholds and class counts) and the file size are recorded beside them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beamsim.experiments.studies.commands import chain, compress_command, distill_command
from beamsim.fileio import atomic_path

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.experiments.studies.settings import StudyContext

__all__ = ["Made", "TrainingSource", "RealSource", "DistillSource", "PtqSource", "PatchPtqSource",
           "full_ptq_source", "distilled_info"]


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
    part) and :meth:`make` (make or reuse the set, return a :class:`Made`). A source that
    distils calls :func:`beamsim.distill.distill_file` and records
    :func:`~beamsim.experiments.studies.commands.distill_command`, as
    :class:`DistillSource` does.
    """

    kind = "source"

    def settings(self, ctx: StudyContext) -> dict[str, Any]:
        """Everything the training set depends on, as plain JSON values."""
        raise NotImplementedError(f"{type(self).__name__} must define settings(ctx)")

    def slug(self, ctx: StudyContext) -> str:
        """A short file-name part of the source's files (default: :attr:`kind`)."""
        return self.kind

    def make(self, ctx: StudyContext) -> Made:
        """Make the training set (or reuse the file an earlier run made)."""
        raise NotImplementedError(f"{type(self).__name__} must define make(ctx)")


def _write_config(path: Path, cfg: DistillConfig) -> None:
    """The resolved settings of a distillation as TOML (the ``--config`` of its command)."""
    with atomic_path(path, suffix=".toml.tmp") as tmp:
        tmp.write_text(cfg.to_toml())


def distilled_info(ctx: StudyContext, path: Path, described: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sizes a point records of a distilled file (see :class:`Made`), from its ``describe``
    (``described``, else read from ``path``)."""
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
        if cfg.quantizer.name != "none" and quantizer_class(cfg.quantizer.name).version != 1:
            out["quantizer_version"] = quantizer_class(cfg.quantizer.name).version  # its older points re-run
        return out

    def slug(self, ctx: StudyContext) -> str:
        """``name``, else what ``beamsim distill`` names the set (:func:`beamsim.distill.naming.set_name`)."""
        from beamsim.distill.naming import set_name

        return self.name or set_name(self.config(ctx))

    def paths(self, ctx: StudyContext) -> tuple[Path, Path]:
        """(distilled file, its resolved config as TOML)."""
        stem = ctx.file_stem(self.slug(ctx), self.settings(ctx))
        return ctx.points_dir / f"{stem}.h5", ctx.points_dir / f"{stem}.toml"

    def command(self, ctx: StudyContext, out: Path | None = None) -> str:
        """The ``beamsim distill`` command that writes this set (to ``out``, default its own path)."""
        own, toml = self.paths(ctx)
        return distill_command(ctx.settings, self.config(ctx), toml, own if out is None else out)

    def make(self, ctx: StudyContext) -> Made:
        from beamsim.distill.pipeline import distill_file

        out, toml = self.paths(ctx)
        command = self.command(ctx)
        if out.exists():
            return Made(train=out, info=distilled_info(ctx, out), command=command, reused=True)
        cfg = self.config(ctx)
        _write_config(toml, cfg)
        s = ctx.settings
        run = distill_file(ctx.train, out, cfg, seed=s.seed, device=ctx.device, cache_dir=s.cache_dir,
                           provenance=ctx.provenance, resume=True, on_mismatch="restart",
                           log=lambda line: ctx.progress(f"  {line}"))
        return Made(train=out, info=distilled_info(ctx, out, run.described), command=command,
                    seconds={"distill_s": run.seconds})


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
        from beamsim.distill.container import read, save, settings_of
        from beamsim.distill.quant import build_quantizer

        same = self.equivalent()
        out, toml = ctx.points_dir / f"{ctx.file_stem(self.slug(ctx), self.settings(ctx))}.h5", same.paths(ctx)[1]
        command = same.command(ctx, out=out)
        if out.exists():
            return Made(train=out, info=distilled_info(ctx, out), command=command, reused=True)
        base = self.base.make(ctx)
        start = time.perf_counter()
        data = read(base.train)
        quantizer = build_quantizer("ptq", bits=self.bits)
        quantizer.initialize(data.x)
        cfg = same.config(ctx)
        _write_config(toml, cfg)
        attrs = data.attrs
        extra = settings_of(attrs, str(base.train))
        extra["config"] = cfg.as_dict()
        save(out, data.x, data.y, quantizer, num_classes=int(attrs["num_classes"]), settings=extra,
             provenance=ctx.provenance.replace(objective=cfg.objective, spc=cfg.spc, seed=ctx.settings.seed))
        seconds = dict(base.seconds)
        seconds["ptq_s"] = time.perf_counter() - start
        return Made(train=out, info=distilled_info(ctx, out), command=command, seconds=seconds)


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
        compress = compress_command(ctx.settings, base.train, out, bits=self.bits, groups=self.groups,
                                    budget_bytes=budget, refine=self.refine, entropy=self.entropy, extra=self.extra)
        command = chain(base.command, compress)
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
        info = distilled_info(ctx, path, d)
        info.update(payload_bits=payload, payload_bits_stored=payload, compression_ratio=ctx.full_bits / payload,
                    budget_bytes=d["budget_bytes"], groups=d["groups"], codec=d["codec"], entropy=d["entropy"])
        return info



"""Baselines study: every method at one spc and bit width, in one table and one figure.

Each row is a named method from a registry. A method maps the study's options to a
:class:`~beamsim.experiments.studies.sources.TrainingSource`; rows appear in registration
order. The built-in rows, as in the papers' compression-vs-accuracy comparison:

=================  =====================================================================
``full-f32``       the full training split, float32
``full-ptq8``      the full training split, quantized once to 8 bits (min-max uniform)
``random``         random real coreset, ``spc`` per class, float32 (objective ``none``)
``herding``        herding coreset, float32
``kcenter``        k-center coreset, float32
``distill``        unquantized distillation (the study's objective), float32
``distill-ptq``    the same set quantized once to ``bits`` (post-training)
``distill-patch``  the same set through the patch-wise compressor (``beamsim compress``:
                   4-bit GAQ, refinement, range coding, real rows added) within the
                   bytes QuADD stores at ``bits`` (see
                   :class:`~beamsim.experiments.studies.sources.PatchPtqSource`)
``quadd-apot``     QuADD, APoT quantizer in the loop at ``bits``
``quadd-uniform``  QuADD, uniform quantizer in the loop
``quadd-fsq``      QuADD, FSQ quantizer in the loop
``fred``           FreD: DCT coefficients chosen by explained variance, float32, as many
                   per sample as fit QuADD's bytes at ``bits``
``qfred``          QuADD + FreD: the coefficients quantized in the loop at ``bits``, as
                   many as fit QuADD's bytes
``autopalette``    AutoPalette: per-sample palettes and index maps, the largest palette
                   whose bytes fit QuADD's
=================  =====================================================================

Every row has the same samples per class (the papers' same-IPC comparison); the three
parameterized rows also match QuADD's payload bytes (:mod:`beamsim.distill.param.budget`;
the table gives every row's bytes).

Adding a row is a few lines, e.g. a random coreset drawn with replacement::

    from beamsim.experiments.studies.baselines import register_method
    from beamsim.experiments.studies.sources import DistillSource

    @register_method("random-repl", "random coreset with replacement, spc {spc}", group="coreset")
    def _random_repl(opts):
        return DistillSource(objective="none", quantizer="none", spc=opts.spc, replacement=True)

A new kind of training set subclasses
:class:`~beamsim.experiments.studies.sources.TrainingSource` (``settings``, ``slug``,
``make``), as ``PatchPtqSource`` does for the compressor.

Outputs in ``out``: ``baselines.csv``, ``baselines.png`` (bars: compression ratio against
the full 32-bit set, log axis, annotated with the payload; line: top-1 on a second axis),
``baselines.json`` and ``points/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from beamsim.experiments.studies.outputs import StudyResult, finish, flat_row
from beamsim.experiments.studies.runner import Point, run_points
from beamsim.experiments.studies.settings import FULL_PTQ_BITS, Progress, StudyContext, StudySettings, parse_int_list
from beamsim.experiments.studies.sources import (DistillSource, PatchPtqSource, PtqSource, RealSource, TrainingSource,
                                                 full_ptq_source)
from beamsim.experiments.studies.plots import format_bits

__all__ = ["BaselineOptions", "Method", "register_method", "baseline_methods", "baselines_study"]

@dataclass(frozen=True)
class BaselineOptions:
    """What a method may depend on.

    Attributes:
        spc: samples per class of the coresets and distillations.
        bits: bits per element of the quantized distillations.
        objective: the distillation objective (resolved: ``tm``, ``dm`` or ``dc``).
        max_class_count: the largest class of the training split (``spc`` that keeps every
            real sample).
        varying: elements of a sample that vary over the training split (QuADD stores these).
        pixels: pixel positions where some channel varies (AutoPalette indexes these).
        channels: channels of a sample.
    """

    spc: int
    bits: int
    objective: str
    max_class_count: int
    varying: int = 0
    pixels: int = 0
    channels: int = 1


@dataclass(frozen=True)
class Method:
    """A named row of the baselines table.

    Attributes:
        name: registry key (a file-name part).
        label: display label; ``{bits}``, ``{spc}`` and ``{objective}`` are filled in.
        group: ``full data``, ``coreset``, ``distillation`` or ``QuADD`` (any text).
        source: ``source(options) -> TrainingSource``.
    """

    name: str
    label: str
    group: str
    source: Callable[[BaselineOptions], TrainingSource]

    def title(self, opts: BaselineOptions) -> str:
        return self.label.format(bits=opts.bits, spc=opts.spc, objective=opts.objective.upper())


_METHODS: dict[str, Method] = {}


def register_method(name: str, label: str, *, group: str = "") -> Callable:
    """Function decorator: add a row ``name`` to the baselines study (after the existing ones).

    The decorated function takes :class:`BaselineOptions` and returns a
    :class:`~beamsim.experiments.studies.sources.TrainingSource`.

    Raises:
        ValueError: ``name`` is taken or not a plain file-name part.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"method name {name!r} must be letters, digits, '-' or '_'")

    def decorate(fn: Callable[[BaselineOptions], TrainingSource]):
        if name in _METHODS:
            raise ValueError(f"baseline method {name!r} is already registered")
        _METHODS[name] = Method(name, label, group, fn)
        return fn

    return decorate


def baseline_methods() -> list[Method]:
    """The registered methods, in table order.

    >>> [m.name for m in baseline_methods()][:3]
    ['full-f32', 'full-ptq8', 'random']
    """
    return list(_METHODS.values())


@register_method("full-f32", "full data, 32 bits", group="full data")
def _full(opts: BaselineOptions) -> TrainingSource:
    return RealSource()


@register_method(f"full-ptq{FULL_PTQ_BITS}", f"full data, PTQ {FULL_PTQ_BITS} bits", group="full data")
def _full_ptq(opts: BaselineOptions) -> TrainingSource:
    return full_ptq_source(opts.max_class_count, FULL_PTQ_BITS)


def _coreset(init: str) -> Callable[[BaselineOptions], TrainingSource]:
    def source(opts: BaselineOptions) -> TrainingSource:
        return DistillSource(objective="none", quantizer="none", init=init, spc=opts.spc)

    return source


register_method("random", "random coreset, spc {spc}", group="coreset")(_coreset("real"))
register_method("herding", "herding coreset, spc {spc}", group="coreset")(_coreset("herding"))
register_method("kcenter", "k-center coreset, spc {spc}", group="coreset")(_coreset("kcenter"))


def _float_distillation(opts: BaselineOptions) -> DistillSource:
    return DistillSource(spc=opts.spc, quantizer="none")


@register_method("distill", "{objective}, float32", group="distillation")
def _distill(opts: BaselineOptions) -> TrainingSource:
    return _float_distillation(opts)


@register_method("distill-ptq", "{objective} + PTQ {bits} bits", group="distillation")
def _distill_ptq(opts: BaselineOptions) -> TrainingSource:
    return PtqSource(_float_distillation(opts), opts.bits)


#: Bits per code of the patch-wise compressor row: ``beamsim compress``'s default for beam
#: maps (the paper's 2 bits lose 13 points to QuADD on them at equal bytes; README).
PATCH_BITS = 4


@register_method("distill-patch", "{objective} + patch GAQ %d bits, QuADD {bits}-bit bytes" % PATCH_BITS,
                 group="distillation")
def _distill_patch(opts: BaselineOptions) -> TrainingSource:
    return PatchPtqSource(_float_distillation(opts), bits=PATCH_BITS, budget_bits=opts.bits)


def _quadd(quantizer: str) -> Callable[[BaselineOptions], TrainingSource]:
    def source(opts: BaselineOptions) -> TrainingSource:
        return DistillSource(spc=opts.spc, bits=opts.bits, quantizer=quantizer)

    return source


register_method("quadd-apot", "QuADD APoT {bits} bits", group="QuADD")(_quadd("apot"))
register_method("quadd-uniform", "QuADD uniform {bits} bits", group="QuADD")(_quadd("uniform"))
register_method("quadd-fsq", "QuADD FSQ {bits} bits", group="QuADD")(_quadd("fsq"))


@register_method("fred", "FreD, float32, QuADD {bits}-bit bytes", group="parameterized")
def _fred(opts: BaselineOptions) -> TrainingSource:
    from beamsim.distill.param.budget import matched_coefficients

    k = matched_coefficients(opts.varying, opts.bits, channels=opts.channels, coefficient_bits=32)
    return DistillSource(spc=opts.spc, quantizer="none", bits=32, param="fred", coefficients=k)


@register_method("qfred", "QuADD + FreD APoT {bits} bits, QuADD bytes", group="parameterized")
def _qfred(opts: BaselineOptions) -> TrainingSource:
    from beamsim.distill.param.budget import matched_coefficients

    k = matched_coefficients(opts.varying, opts.bits, channels=opts.channels, coefficient_bits=opts.bits)
    return DistillSource(spc=opts.spc, bits=opts.bits, quantizer="apot", param="fred", coefficients=k)


@register_method("autopalette", "AutoPalette, QuADD {bits}-bit bytes", group="parameterized")
def _autopalette(opts: BaselineOptions) -> TrainingSource:
    from beamsim.distill.param.budget import matched_colors

    colors = matched_colors(opts.varying, opts.bits, pixels=opts.pixels, channels=opts.channels)
    return DistillSource(spc=opts.spc, quantizer="none", bits=32, param="palette", colors=colors)


def _shape_counts(x) -> tuple[int, int, int]:
    """(varying elements, varying pixels, channels) of training inputs ``x`` [N, C, H, W]."""
    from beamsim.distill.constant import constant_feature_mask

    mask, _ = constant_feature_mask(x)
    pixels = int((~mask).reshape(mask.shape[0], -1).any(dim=0).sum()) if mask.ndim == 3 else int((~mask).sum())
    return int((~mask).sum()), pixels, int(mask.shape[0]) if mask.ndim == 3 else 1


def _select(methods: Sequence[str] | str | None) -> list[Method]:
    known = {m.name: m for m in baseline_methods()}
    if methods is None:
        return list(known.values())
    names = [s.strip() for s in methods.split(",")] if isinstance(methods, str) else list(methods)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--methods lists a method twice: {', '.join(names)}")
    return [known[n] for n in names]


def _figure(rows: list[dict], spc: int, bits: int) -> dict:
    return {"kind": "bars_line", "title": f"Compression vs. accuracy (spc {spc}, {bits} bits)",
            "categories": [r["label"] for r in rows], "methods": [r["method"] for r in rows],
            "bars": {"label": "compression ratio vs. full 32-bit set", "scale": "log",
                     "values": [r["compression_ratio"] for r in rows],
                     "annotations": [format_bits(r["payload_bits"]) for r in rows],
                     "payload_bits": [r["payload_bits"] for r in rows]},
            "line": {"label": "top-1 accuracy (%)", "values": [100 * r["top1_mean"] for r in rows],
                     "yerr": [100 * r["top1_std"] for r in rows]}}


def baselines_study(settings: StudySettings, *, spc: int = 50, bits: int = 6,
                    methods: Sequence[str] | str | None = None,
              progress: Progress | None = None) -> StudyResult:
    """Run (or resume) the baselines study and write its outputs into ``settings.out``.

    Args:
        settings: the common study settings (``objective`` picks the distillation objective).
        spc: samples per class of coresets and distillations (>= 1).
        bits: bits per element of the quantized distillations (2..8: FSQ needs 2).
        methods: names of the rows to run (default: all, see :func:`baseline_methods`).
        progress: called with one line per point.

    Returns:
        a :class:`~beamsim.experiments.studies.outputs.StudyResult` (table and figure
        ``baselines``).
    """
    (spc,) = parse_int_list([spc] if isinstance(spc, int) else spc, "--spc", 1)
    (bits,) = parse_int_list([bits] if isinstance(bits, int) else bits, "--bits", 2, 8)
    chosen = _select(methods)
    ctx = StudyContext(settings, progress)
    varying, pixels, channels = _shape_counts(ctx.train.inputs)
    opts = BaselineOptions(spc=spc, bits=bits, objective=settings.base_config().objective,
                           max_class_count=int(ctx.class_counts.max()), varying=varying, pixels=pixels,
                           channels=channels)
    points = [Point(m.name, m.title(opts), m.source(opts), {"method": m.name, "label": m.title(opts),
                                                              "group": m.group})
              for m in chosen]
    records = run_points(ctx, points)
    rows = [flat_row(r) for r in records]
    return finish(ctx, "baselines", records, {"baselines": rows}, {"baselines": _figure(rows, spc, bits)},
                  settings={"spc": spc, "bits": bits, "methods": [m.name for m in chosen]})

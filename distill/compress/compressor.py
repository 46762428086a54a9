"""The patch-wise post-training compressor: PAQ/GAQ, refinement, range coding, a byte budget.

A plug-in for any finished synthetic set (the second paper's pipeline): pick the samples and
groups that fit the budget (:mod:`.budget`), refine the chosen set for quantization
(:mod:`.refine`, before grouping), group and quantize its patches (:mod:`.gaq`, :mod:`.paq`)
and range-code the codes (:mod:`.coder`).

>>> g = torch.Generator().manual_seed(0)
>>> x, y = torch.rand(8, 1, 8, 8, generator=g), torch.arange(4).repeat_interleave(2)
>>> comp = PatchCompressor(CompressConfig(bits=2, refine=False), generator=g).fit(x, y)
>>> comp.sizes_.payload <= 8 * 64 * 4, comp.decode()[0].shape
(True, torch.Size([8, 1, 8, 8]))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from beamsim.config import make_generator
from beamsim.distill.compress import coder
from beamsim.distill.compress.budget import build_pool, search_budget
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import ByteSizes, QuantizedSet
from beamsim.distill.compress.refine import feature_model, refine

__all__ = ["PatchCompressor", "compress_file"]


class PatchCompressor:
    """Estimator: ``PatchCompressor(config).fit(x, y) -> self``.

    Args:
        config: settings (defaults: bits for the maps' size, automatic patch and groups, refinement and range
            coding on, a budget of the float32 input set).
        device: where the refinement network runs (the config's when None).
        generator: CPU ``torch.Generator`` for the order of extra rows, the refinement
            network and k-means (the config seed when None). Same state, same output bytes.
        model: the refinement's feature network (a fresh random one when None).

    Attributes (after :meth:`fit`):
        config_: the settings used (``bits`` chosen for the maps' size when it was None).
        quantized_: the :class:`~.quantized.QuantizedSet` (rows grouped by class).
        stream_: the range-coded codes (bytes), or None without entropy coding.
        labels_: [N'] int64 labels; counts_: [C] int64 samples per class.
        samples_per_class_: ``k``; groups_: parameter pairs used; codec_: ``"paq"``/``"gaq"``.
        sizes_: :class:`~.quantized.ByteSizes` of what is stored (the real coded length).
        input_samples_: ``N``, rows of the input set.
        budget_bytes_: the budget; num_classes_: ``C``.
        distilled_rows_, extra_rows_: how many of the rows come from the input set and how
            many from the extra real rows.
        refine_history_: feature loss before each refinement step and after the last
            (empty without refinement).
        evaluations_: sets quantized by the search.
    """

    def __init__(self, config: CompressConfig | None = None, *, device: str | torch.device | None = None,
                 generator: torch.Generator | None = None, model: nn.Module | None = None) -> None:
        self.config = CompressConfig() if config is None else config
        self.device = device
        self.generator = generator
        self.model = model

    def fit(self, x: torch.Tensor, y: torch.Tensor, *, num_classes: int | None = None,
            extra_x: torch.Tensor | None = None, extra_y: torch.Tensor | None = None) -> "PatchCompressor":
        """Compress a set.

        Args:
            x: [N, C, H, W] float finished synthetic set (beam maps [N, 1, 8, 8] in [0, 1]).
            y: [N] int labels.
            num_classes: ``C`` (default: largest label + 1).
            extra_x, extra_y: [M, C, H, W] real rows and their labels that may be added when
                the budget holds more than ``N`` samples (see :mod:`.budget`).

        Returns:
            self.

        Raises:
            ValueError: bad shapes, or a budget too small for one sample per class.
        """
        PatchLayout.build(x, self.config.patch)  # validates x
        cfg = self.config.resolve(*x.shape[-2:])
        gen = make_generator() if self.generator is None else self.generator
        n, d = int(x.shape[0]), int(x[0].numel())
        labels = torch.as_tensor(y).long().cpu()
        top = max(int(labels.max()), int(extra_y.max()) if extra_y is not None and len(extra_y) else -1) + 1
        num_classes = top if num_classes is None else int(num_classes)
        if num_classes < top:
            raise ValueError(f"num_classes={num_classes} but a label is {top - 1}; raise num_classes")
        budget = n * d * 4 if cfg.budget_bytes is None else cfg.budget_bytes
        pool_x, pool_y, distilled = build_pool(x, labels, extra_x, extra_y, generator=gen)
        history: list[float] = []
        model = self.model

        def refined(chosen: torch.Tensor) -> torch.Tensor:
            nonlocal history, model
            if model is None:  # built on first use: the generator's draws keep their order
                model = feature_model(pool_x[:1], cfg.refine_model, num_classes, gen)
            layout = PatchLayout.build(chosen, cfg.patch, cfg.constants_once)
            out, history = refine(chosen, cfg.bits, layout=layout, steps=cfg.refine_steps, lr=cfg.refine_lr,
                                  batch_size=cfg.refine_batch, model=model, device=self.device)
            return out

        choice = search_budget(pool_x, pool_y, budget, cfg, num_classes=num_classes, generator=gen,
                               prepare=refined if cfg.refine else None)
        quantized, bound, index, k = choice.quantized, choice.sizes, choice.index, choice.samples_per_class
        if bound.payload > budget:
            raise ValueError(f"the compressed set takes {bound.payload} bytes, more than the budget of {budget} "
                             "bytes; raise --budget-bytes or use --no-refine")
        stream = coder.encode(quantized.codes.numpy(), cfg.bits) if cfg.entropy else None
        self.config_ = cfg
        self.quantized_: QuantizedSet = quantized
        self.input_samples_ = n
        self.stream_: bytes | None = stream
        self.labels_ = pool_y[index]
        self.counts_ = torch.bincount(self.labels_, minlength=num_classes)
        self.num_classes_ = num_classes
        self.samples_per_class_ = k
        self.groups_ = quantized.num_groups
        self.codec_ = quantized.codec
        self.sizes_: ByteSizes = quantized.sizes(None if stream is None else len(stream), num_classes)
        self.budget_bytes_ = int(budget)
        self.distilled_rows_ = int(distilled[index].sum())
        self.extra_rows_ = int(len(index) - self.distilled_rows_)
        self.refine_history_ = history
        self.evaluations_ = choice.evaluations
        return self

    def decode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x [N', C, H, W] float32, y [N'] int64): what :func:`beamsim.distill.load` returns
        for the saved file."""
        return self.quantized_.decode(), self.labels_.clone()

    def save(self, path: str | Path, **metadata) -> dict:
        """Write the compressed set (see :func:`.file.save_compressed` for ``metadata``).

        Returns:
            :func:`beamsim.distill.container.describe` of the written file.
        """
        from beamsim.distill.compress.file import save_compressed

        return save_compressed(path, self.quantized_, self.counts_, stream=self.stream_, config=self.config_,
                               budget_bytes=self.budget_bytes_, samples_per_class=self.samples_per_class_,
                               **metadata)


def _carried_settings(attrs: dict) -> dict:
    """The input's image data-set record and distill config, so ``evaluate`` finds its test set."""
    import tomllib

    try:
        settings = tomllib.loads(str(attrs.get("settings") or ""))
    except tomllib.TOMLDecodeError:
        return {}
    return {key: settings[key] for key in ("dataset", "config") if isinstance(settings.get(key), dict)}


def _extra_rows(attrs: dict, source: str | Path | None, channels: int,
                warn: Callable[[str], None]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Real rows for the budget's extra samples: from ``source`` or the file's ``source_path``."""
    from beamsim.distill.container import format_of
    from beamsim.distill.compress.budget import extra_rows_from_source
    from beamsim.errors import DataFileError

    if source is None:
        recorded = str(attrs.get("source_path") or "")
        if not recorded:
            warn("no source data set recorded in the file: only its own rows can be kept")
            return None, None
        if not Path(recorded).is_file():
            warn(f"source data set {recorded} not found: only the file's own rows can be kept (give --source)")
            return None, None
        source = recorded
    fmt = format_of(source)
    if fmt != "beamsim.dataset":
        raise DataFileError(f"{source}: extra samples come from a beam data set (format 'beamsim.dataset'), "
                            f"found {fmt!r}; use --no-extra")
    return extra_rows_from_source(str(source), str(attrs.get("encoding") or ""), channels=channels)


def compress_file(path: str | Path, out: str | Path, config: CompressConfig | None = None, *,
                  extra: bool = True, source: str | Path | None = None, seed: int = 0,
                  device: str | torch.device | None = None,
                  progress: Callable[[str], None] | None = None) -> tuple[PatchCompressor, dict]:
    """Compress a distilled file into ``out`` (what ``beamsim compress`` does).

    Args:
        path: a distilled file (float32 or packed codes).
        out: the compressed file (written atomically; not ``path``).
        config: compressor settings (defaults of :class:`CompressConfig` when None).
        extra: let the budget add real rows of the source data set (``source``, else the
            file's recorded ``source_path``; without one only the file's rows are kept).
        seed: seed of the compressor's generator: same seed, same output bytes.
        device: where the refinement runs.
        progress: called with one line before the work starts, and one when extra rows were
            asked for but cannot be had.

    Returns:
        (the fitted :class:`PatchCompressor`, ``describe`` of the written file).

    Raises:
        ValueError: ``out`` is ``path``, or what :meth:`PatchCompressor.fit` raises.
        DataFileError: a bad input or source file.
    """
    from beamsim.distill.container import read
    from beamsim.fileio import check_writable

    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise ValueError(f"--out {out} is the input file; write the compressed set elsewhere")
    data = read(path)
    check_writable(out)  # before the work, not after it
    x, y, attrs = data.x.float(), data.y, data.attrs
    say = progress or (lambda line: None)
    extra_x = extra_y = None
    if extra:
        extra_x, extra_y = _extra_rows(attrs, source, int(x.shape[1]) if x.ndim == 4 else 0, say)
    say(f"compressing {x.shape[0]} samples at {(config or CompressConfig()).resolve(*x.shape[-2:]).bits} bits "
        f"({0 if extra_x is None else len(extra_x)} real rows in reserve) ...")
    comp = PatchCompressor(config, device=device, generator=make_generator(seed)).fit(
        x, y, num_classes=int(attrs.get("num_classes", 0)) or None, extra_x=extra_x, extra_y=extra_y)
    source_samples = attrs.get("source_samples", -1)
    described = comp.save(out, class_names=attrs.get("class_names"), source_sha256=attrs.get("source_sha256", ""),
                          source_path=attrs.get("source_path", ""), encoding=attrs.get("encoding", ""),
                          source_samples=None if source_samples in (None, -1) else int(source_samples),
                          objective=attrs.get("objective", ""), seed=seed,
                          settings={"input": str(path), "input_samples": int(x.shape[0]),
                                    "input_codec": attrs.get("codec") or attrs.get("quantizer", ""),
                                    "input_bits": int(attrs.get("bits", 0)), **_carried_settings(attrs)})
    return comp, described

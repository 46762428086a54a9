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

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from beamsim.config import make_generator
from beamsim.distill.compress import coder
from beamsim.distill.compress.budget import build_pool, search_budget
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.file import PatchCodec
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import ByteSizes, QuantizedSet
from beamsim.distill.compress.refine import feature_model, refine
from beamsim.distill.files import read, settings_of
from beamsim.distill.provenance import Provenance
from beamsim.fileio import check_writable

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
            extra_x: [M, C, H, W] real rows that may be added when the budget holds more than
                ``N`` samples (see :mod:`.budget`).
            extra_y: [M] int labels of ``extra_x``.

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

    def save(self, path: str | Path, *, provenance: Provenance | None = None,
             class_names: Sequence[str] | None = None, settings: Mapping[str, Any] | None = None) -> dict:
        """Write the compressed set with the patch codec (:class:`~.file.PatchCodec`).

        Args:
            path: output file (``.h5``).
            provenance: where the input set came from; its ``spc`` is replaced by the samples
                per class kept (``samples_per_class_``).
            class_names: ``C`` names (optional).
            settings: further settings (stored as TOML text).

        Returns:
            ``describe`` of the written file.
        """
        provenance = (provenance or Provenance()).replace(spc=self.samples_per_class_)
        return PatchCodec().write(path, self.quantized_, self.counts_, stream=self.stream_, config=self.config_,
                                  budget_bytes=self.budget_bytes_, class_names=class_names, provenance=provenance,
                                  settings=settings)


def _carried_settings(attrs: dict, where: str) -> dict:
    """The input's image data-set record and distill config, so ``evaluate`` finds its test set."""
    settings = settings_of(attrs, where)
    return {key: settings[key] for key in ("dataset", "config") if isinstance(settings.get(key), dict)}


def compress_file(path: str | Path, out: str | Path, config: CompressConfig | None = None, *,
                  extra_rows: tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray] | None = None,
                  seed: int = 0, device: str | torch.device | None = None,
                  progress: Callable[[str], None] | None = None) -> tuple[PatchCompressor, dict]:
    """Compress a distilled file into ``out`` (what ``beamsim compress`` does).

    Args:
        path: a distilled file (any codec: float32, packed codes, patch-quantized).
        out: the compressed file (written atomically; not ``path``).
        config: compressor settings (defaults of :class:`CompressConfig` when None).
        extra_rows: ``(x [M, *shape] float32, y [M] int64)`` real rows of the data set the
            file was distilled from (tensors or arrays), which the budget may add when it
            holds more than the file's rows (None: only the file's rows). The caller loads
            them: for beam data :func:`beamsim.experiments.extra_rows.extra_rows` reads the
            file's recorded source; image sets pass their training arrays.
        seed: seed of the compressor's generator: same seed, same output bytes.
        device: where the refinement runs.
        progress: called with one line before the work starts.

    Returns:
        (the fitted :class:`PatchCompressor`, ``describe`` of the written file).

    Raises:
        ValueError: ``out`` is ``path``, extra rows of another shape, or what
            :meth:`PatchCompressor.fit` raises.
        DataFileError: a bad input file.
    """
    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise ValueError(f"--out {out} is the input file; write the compressed set elsewhere")
    data = read(path)
    check_writable(out)  # before the work, not after it
    x, y, attrs = data.x.float(), data.y, data.attrs
    extra_x = extra_y = None
    if extra_rows is not None:
        extra_x, extra_y = _as_rows(extra_rows, tuple(x.shape[1:]), path)
    say = progress or (lambda line: None)
    say(f"compressing {x.shape[0]} samples at {(config or CompressConfig()).resolve(*x.shape[-2:]).bits} bits "
        f"({0 if extra_x is None else len(extra_x)} real rows in reserve) ...")
    comp = PatchCompressor(config, device=device, generator=make_generator(seed)).fit(
        x, y, num_classes=int(attrs.get("num_classes", 0)) or None, extra_x=extra_x, extra_y=extra_y)
    described = comp.save(out, provenance=Provenance.from_attrs(attrs).replace(seed=seed),
                          class_names=attrs.get("class_names"),
                          settings={"input": str(path), "input_samples": int(x.shape[0]),
                                    "input_codec": attrs.get("codec") or attrs.get("quantizer", ""),
                                    "input_bits": int(attrs.get("bits", 0)), **_carried_settings(attrs, str(path))})
    return comp, described


def _as_rows(rows: tuple, shape: tuple[int, ...], path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` extra rows as (float32 [M, *shape], int64 [M]) tensors.

    Raises:
        ValueError: not a pair, or shapes that do not fit the file's samples.
    """
    if not isinstance(rows, (tuple, list)) or len(rows) != 2:
        raise ValueError(f"extra_rows must be a pair (x [M, {', '.join(map(str, shape))}], y [M]), "
                         f"not {type(rows).__name__}")
    x, y = (torch.as_tensor(v) for v in rows)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or y.shape != (x.shape[0],):
        raise ValueError(f"{path}: its samples are [{', '.join(map(str, shape))}], but the extra rows are "
                         f"{list(x.shape)} with labels {list(y.shape)}; give x [M, {', '.join(map(str, shape))}] "
                         "and y [M] of the data set the file was distilled from")
    if y.numel() and (y.is_floating_point() or int(y.min()) < 0):
        raise ValueError("extra-row labels must be non-negative integer class indices")
    return x.float(), y.long()

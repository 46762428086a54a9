"""Differentiable siamese augmentation (DSA, Zhao & Bilen 2021) for image batches.

Each call applies **one** op group, drawn at random from the strategy (DSA's
``color_crop_cutout_flip_scale_rotate``):

- ``color``: brightness ``x + (u - 0.5) * 1.0``, then saturation
  ``(x - mean_c) * 2u + mean_c`` (mean over channels), then contrast
  ``(x - mean) * (u + 0.5) + mean`` (mean over the image); a fresh ``u ~ U(0, 1)`` per image
  and per op;
- ``crop``: translation by up to 1/8 of the side (integer pixels, zero padding);
- ``cutout``: a zeroed square of half the side at a random centre;
- ``flip``: horizontal flip with probability 0.5;
- ``scale``: independent x/y scaling in [1/1.2, 1.2] (bilinear resampling);
- ``rotate``: rotation by up to +-15 degrees (bilinear resampling).

Every op is differentiable in the images (index gathers, masks, ``grid_sample``), so the
gradient of a matching loss reaches the synthetic pixels through the augmentation.

*Siamese*: within one matching step the real and the synthetic batch get the same op and
the same random parameters. As in DSA, parameters are paired by position within a class:
row ``k`` of class ``c`` in the real batch and row ``k`` of class ``c`` in the synthetic
batch share one draw (:meth:`DSA.siamese`).

All randomness comes from the ``torch.Generator`` passed in (drawn on the CPU, then moved
to the images' device), never from the global RNG. DSA is for images only; beam maps are
never augmented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = ["DSA", "DSAConfig", "DSAParams", "OPS", "DEFAULT_STRATEGY", "within_class_rank"]

#: The op groups DSA knows.
OPS: tuple[str, ...] = ("color", "crop", "cutout", "flip", "scale", "rotate")
DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"


@dataclass(frozen=True)
class DSAConfig:
    """DSA's settings (the defaults are DSA's ``ParamDiffAug``).

    Attributes:
        strategy: op groups joined by ``_`` (one is drawn per call), from :data:`OPS`.
        flip_prob: probability of a horizontal flip.
        scale_ratio: scale factors lie in [1 / ratio, ratio].
        rotate_degrees: rotations lie in [-deg, +deg].
        crop_pad: largest translation as a fraction of the side.
        cutout_ratio: side of the cut-out square as a fraction of the image side.
        brightness, saturation, contrast: strengths of the colour ops.
    """

    strategy: str = DEFAULT_STRATEGY
    flip_prob: float = 0.5
    scale_ratio: float = 1.2
    rotate_degrees: float = 15.0
    crop_pad: float = 0.125
    cutout_ratio: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5
    ops: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ops = tuple(op for op in str(self.strategy).split("_") if op)
        unknown = [op for op in ops if op not in OPS]
        if not ops or unknown:
            raise ValueError(f"DSA strategy {self.strategy!r}: use op groups from {', '.join(OPS)} joined by '_'")
        object.__setattr__(self, "ops", ops)
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ValueError(f"flip_prob must lie in [0, 1], got {self.flip_prob}")
        if self.scale_ratio < 1.0 or self.rotate_degrees < 0 or not 0 <= self.crop_pad < 1 or not 0 <= self.cutout_ratio <= 1:
            raise ValueError("DSA ratios out of range: scale_ratio >= 1, rotate_degrees >= 0, crop_pad and "
                             "cutout_ratio in [0, 1)")


@dataclass
class DSAParams:
    """One draw: the op group and per-row parameters (all [R] tensors on the CPU)."""

    op: str
    values: dict[str, torch.Tensor]
    rows: int


def within_class_rank(labels: torch.Tensor) -> torch.Tensor:
    """Position of every row among the rows of its class, in order: [N] int64.

    >>> within_class_rank(torch.tensor([1, 0, 1, 1, 0])).tolist()
    [0, 0, 1, 2, 1]
    """
    labels = labels.detach().cpu().long()
    order = torch.argsort(labels, stable=True)
    sorted_labels = labels[order]
    n = labels.numel()
    starts = torch.zeros(n, dtype=torch.long)
    if n:
        new = torch.ones(n, dtype=torch.bool)
        new[1:] = sorted_labels[1:] != sorted_labels[:-1]
        first = torch.nonzero(new).view(-1)
        counts = torch.diff(torch.cat([first, torch.tensor([n])]))
        starts = torch.repeat_interleave(first, counts)
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n) - starts
    return rank


class DSA:
    """Differentiable siamese augmentation (see the module docstring).

    Args:
        config: a :class:`DSAConfig`, or its fields as keywords (``strategy="crop_flip"``).
    """

    def __init__(self, config: DSAConfig | None = None, **kwargs) -> None:
        if config is None:
            config = DSAConfig(**kwargs)
        elif kwargs:
            raise TypeError("DSA: give either a config or keyword settings, not both")
        self.config = config

    def __repr__(self) -> str:
        return f"DSA(strategy={self.config.strategy!r})"

    # -- drawing ---------------------------------------------------------------------------
    def draw(self, rows: int, size: tuple[int, int], generator: torch.Generator | None,
             op: str | None = None) -> DSAParams:
        """Draw one op group (or use ``op``) and its parameters for ``rows`` rows.

        Args:
            rows: parameter rows to draw (>= 1).
            size: (H, W) of the images (crop and cutout draw integer pixel offsets).
            generator: CPU generator of every random number (None: a fresh one seeded with 0;
                the global RNG is never used).
            op: force this op group (tests); None draws one from the strategy.
        """
        cfg = self.config
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        if op is None:
            op = cfg.ops[int(torch.randint(len(cfg.ops), (1,), generator=generator))]
        elif op not in OPS:
            raise ValueError(f"unknown DSA op {op!r}: use one of {', '.join(OPS)}")
        h, w = size

        def rand() -> torch.Tensor:
            return torch.rand(rows, generator=generator)

        values: dict[str, torch.Tensor] = {}
        if op == "color":
            values = {"brightness": rand(), "saturation": rand(), "contrast": rand()}
        elif op == "crop":
            sx, sy = int(h * cfg.crop_pad + 0.5), int(w * cfg.crop_pad + 0.5)
            values = {"dx": torch.randint(-sx, sx + 1, (rows,), generator=generator),
                      "dy": torch.randint(-sy, sy + 1, (rows,), generator=generator)}
        elif op == "cutout":  # centres as DSA draws them
            ch, cw = self._cutout_size(h, w)
            values = {"cx": torch.randint(0, h + (1 - ch % 2), (rows,), generator=generator),
                      "cy": torch.randint(0, w + (1 - cw % 2), (rows,), generator=generator)}
        elif op == "flip":
            values = {"flip": rand() < cfg.flip_prob}
        elif op == "scale":
            r = cfg.scale_ratio
            values = {"sx": rand() * (r - 1.0 / r) + 1.0 / r, "sy": rand() * (r - 1.0 / r) + 1.0 / r}
        elif op == "rotate":
            values = {"theta": (rand() - 0.5) * 2.0 * cfg.rotate_degrees / 180.0 * math.pi}
        return DSAParams(op=op, values=values, rows=rows)

    # -- applying --------------------------------------------------------------------------
    def apply(self, x: torch.Tensor, params: DSAParams, index: torch.Tensor | None = None) -> torch.Tensor:
        """Augment ``x`` [N, C, H, W] with ``params``; row ``i`` uses parameter row ``index[i]``
        (default ``i``). Differentiable in ``x``; returns [N, C, H, W] on ``x``'s device."""
        n = x.shape[0]
        if index is None:
            index = torch.arange(n)
        index = index.detach().cpu().long()
        if index.shape != (n,) or (n and int(index.max()) >= params.rows):
            raise ValueError(f"index must be [N] = [{n}] rows below {params.rows}")
        v = {k: t[index].to(x.device) for k, t in params.values.items()}
        cfg = self.config
        op = params.op
        if op == "color":
            x = x + (v["brightness"].to(x.dtype).view(-1, 1, 1, 1) - 0.5) * cfg.brightness
            mean_c = x.mean(dim=1, keepdim=True)
            x = (x - mean_c) * (v["saturation"].to(x.dtype).view(-1, 1, 1, 1) * cfg.saturation) + mean_c
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            return (x - mean) * (v["contrast"].to(x.dtype).view(-1, 1, 1, 1) + cfg.contrast) + mean
        if op == "flip":
            return torch.where(v["flip"].view(-1, 1, 1, 1), x.flip(3), x)
        if op == "crop":
            return self._crop(x, v["dx"], v["dy"])
        if op == "cutout":
            return self._cutout(x, v["cx"], v["cy"])
        if op == "scale":
            zero = torch.zeros_like(v["sx"])
            theta = torch.stack([torch.stack([v["sx"], zero, zero], 1), torch.stack([zero, v["sy"], zero], 1)], 1)
            return self._warp(x, theta)
        if op == "rotate":
            c, s = torch.cos(v["theta"]), torch.sin(v["theta"])
            zero = torch.zeros_like(c)
            theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
            return self._warp(x, theta)
        raise ValueError(f"unknown DSA op {op!r}")

    @staticmethod
    def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=True)
        return F.grid_sample(x, grid, align_corners=True)

    @staticmethod
    def _crop(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        gx = torch.clamp(rows + dx.view(-1, 1, 1) + 1, 0, h + 1).expand(n, h, w)
        gy = torch.clamp(cols + dy.view(-1, 1, 1) + 1, 0, w + 1).expand(n, h, w)
        batch = torch.arange(n, device=x.device).view(-1, 1, 1).expand(n, h, w)
        padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
        return padded[batch, gx, gy].permute(0, 3, 1, 2)

    def _cutout(self, x: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        size_h, size_w = self._cutout_size(h, w)
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        top = cx.view(-1, 1, 1) - size_h // 2
        left = cy.view(-1, 1, 1) - size_w // 2
        cut = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
        return x * (~cut).unsqueeze(1).to(x.dtype)

    def _cutout_size(self, h: int, w: int) -> tuple[int, int]:
        return int(h * self.config.cutout_ratio + 0.5), int(w * self.config.cutout_ratio + 0.5)

    # -- the two uses ------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One op group with independent parameters per row (a training batch): [N, C, H, W]."""
        if x.shape[0] == 0:
            return x
        return self.apply(x, self.draw(x.shape[0], tuple(x.shape[2:]), generator))

    def siamese(self, x_real: torch.Tensor, y_real: torch.Tensor, x_syn: torch.Tensor, y_syn: torch.Tensor,
                generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The same op and the same parameters for a real and a synthetic batch.

        Row ``k`` of class ``c`` in either batch uses parameter row ``c * K + k`` (K: the
        largest class count of the two batches), so within a class the real and synthetic
        rows are paired by position, as DSA pairs them.

        Args:
            x_real: [n, C, H, W] float32; y_real: [n] int64.
            x_syn: [m, C, H, W] float32 (differentiable); y_syn: [m] int64.
            generator: CPU generator of the draw.

        Returns:
            (augmented real [n, C, H, W], augmented synthetic [m, C, H, W]).
        """
        if tuple(x_real.shape[2:]) != tuple(x_syn.shape[2:]):
            raise ValueError(f"real and synthetic images differ in size: {list(x_real.shape)} vs {list(x_syn.shape)}")
        rank_real, rank_syn = within_class_rank(y_real), within_class_rank(y_syn)
        ranks = torch.cat([rank_real, rank_syn])
        labels = torch.cat([y_real.detach().cpu().long(), y_syn.detach().cpu().long()])
        if labels.numel() == 0:
            return x_real, x_syn
        width = int(ranks.max()) + 1
        rows = (int(labels.max()) + 1) * width
        params = self.draw(rows, tuple(x_syn.shape[2:]), generator)
        key_real = y_real.detach().cpu().long() * width + rank_real
        key_syn = y_syn.detach().cpu().long() * width + rank_syn
        return self.apply(x_real, params, key_real), self.apply(x_syn, params, key_syn)

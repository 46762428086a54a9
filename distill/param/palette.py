"""AutoPalette: every sample is an index map into its own palette of K colours.

Yuan et al., "Color-Oriented Redundancy Reduction in Dataset Distillation" (NeurIPS 2024),
after ColorCNN (Hou & Zheng, CVPR 2020). A palette network (:class:`PaletteNet`, one 1 x 1
convolution) maps a sample ``x`` [C, H, W] to per-pixel probabilities ``m`` [K, H, W]
(softmax over the K colours). The sample's palette holds K colours, each a C-vector:

    c_k = sum_p m_k(p) x(p) / (sum_p m_k(p) + eps)          (:func:`palette_colors`)

Train mode gives the soft image ``x_soft(p) = sum_k m_k(p) c_k`` (differentiable in the
latent and in the network); eval mode and the file give the hard one: ``index(p) =
argmax_k m_k(p)`` (:func:`hard_assignment`), the palette recomputed from the one-hot
assignment (the mean of the pixels given colour k; 0 for a colour no pixel takes) and
``x(p) = c_index(p)`` (:func:`decode_indices`, which the file codec decodes with too, so
the file equals eval forward bit for bit). For single-channel beam maps (C = 1) a palette
is K scalar values.

Constant features: a pixel whose C channels are all constant over the real data gets no
index (it is not counted in the palettes or the losses); every constant element is set to
its value after decoding, in both modes (:func:`beamsim.distill.constant.apply_constant`).

Two losses keep the palette useful (:func:`palette_losses`, averaged over the samples):
palette balance, ``log K - H(u)`` with ``u_k`` the mean usage of colour k over the pixels
(0 when the colours are used evenly), and maximum colour, ``1 - mean_k max_p m_k(p)`` (0
when every colour is chosen with certainty somewhere).

>>> palette_payload_bits(10, 64, 16, 1)   # 10 beam maps of 8 x 8 pixels, 16 scalar colours
7680
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from beamsim.distill.constant import apply_constant
from beamsim.distill.param.base import Parameterization
from beamsim.distill.param.registry import register_param

if TYPE_CHECKING:
    from beamsim.distill.files.codec import Codec
    from beamsim.distill.settings import ParamSettings

__all__ = ["AutoPalette", "PaletteNet", "palette_colors", "soft_image", "palette_losses", "hard_assignment",
           "decode_indices", "palette_index_bits", "palette_payload_bits", "KERNEL", "EPS"]

#: The palette network's kernel: one 1 x 1 convolution, so a pixel's colour index is a function
#: of its own value (for C = 1 the K logits are lines in the value, and the argmax cuts the value
#: range into intervals: a learned scalar quantizer per run). A 3 x 3 kernel fitted i.i.d.
#: pixels several times worse in the warm-up (its neighbours are noise to it).
KERNEL = 1
#: Added to a colour's total weight before dividing (a colour with no weight becomes 0).
EPS = 1e-8


# --- pure functions ------------------------------------------------------------------------

def palette_index_bits(colors: int) -> int:
    """Bits of one palette index: ``ceil(log2 K)`` (``log2 K`` for the power-of-two K a run uses).

    >>> palette_index_bits(2), palette_index_bits(16), palette_index_bits(256)
    (1, 4, 8)

    Raises:
        ValueError: K is not an integer in 2..256.
    """
    if isinstance(colors, bool) or int(colors) != colors or not 2 <= colors <= 256:
        raise ValueError(f"colors {colors!r} must be an integer in 2..256 (a palette index of at most 8 bits)")
    return math.ceil(math.log2(int(colors)))


def palette_payload_bits(num_samples: int, pixels: int, colors: int, channels: int) -> int:
    """Bits of N index maps and N palettes: ``N pixels log2(K) + N K C 32`` (palettes float32).

    Args:
        num_samples: N.
        pixels: indexed pixels per sample (H W, less the pixels constant over the real data).
        colors: K.
        channels: C, the length of a colour.

    >>> palette_payload_bits(1, 1024, 16, 3)   # one 32 x 32 RGB image: 4096 index + 1536 palette bits
    5632
    >>> palette_payload_bits(3200, 32, 4, 1)   # 3200 beam maps, 32 varying beams, 4 colours
    614400

    Raises:
        ValueError: a count is negative or not an integer; K is not in 2..256.
    """
    for name, value in (("num_samples", num_samples), ("pixels", pixels), ("channels", channels)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    n, k = int(num_samples), int(colors)
    return n * int(pixels) * palette_index_bits(k) + n * k * int(channels) * 32


def palette_colors(x: torch.Tensor, m: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Each sample's palette: colour k is the ``m_k``-weighted mean of the sample's pixels.

    Args:
        x: [M, C, H, W] float samples.
        m: [M, K, H, W] non-negative weights (probabilities, a one-hot assignment; zero where
            a pixel must not count).
        eps: added to each colour's total weight (a colour without weight becomes 0).

    Returns:
        [M, K, C] palettes, same dtype as ``x``; differentiable in ``x`` and ``m``.

    >>> x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])          # one 2 x 2 scalar sample
    >>> m = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]])
    >>> palette_colors(x, m).tolist()
    [[[0.5], [2.5]]]
    """
    weights = m.flatten(2)
    sums = torch.einsum("mkp,mcp->mkc", weights, x.flatten(2))
    return sums / (weights.sum(-1, keepdim=True) + eps)


def soft_image(m: torch.Tensor, palettes: torch.Tensor) -> torch.Tensor:
    """The soft colour-reduced samples ``x(p) = sum_k m_k(p) c_k``.

    Args:
        m: [M, K, H, W] probabilities; palettes: [M, K, C].

    Returns:
        [M, C, H, W].

    >>> soft_image(torch.tensor([[[[0.5]], [[0.5]]]]), torch.tensor([[[0.0], [2.0]]])).tolist()
    [[[[1.0]]]]
    """
    return torch.einsum("mkhw,mkc->mchw", m, palettes)


def palette_losses(m: torch.Tensor, pixels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """AutoPalette's palette-balance and maximum-colour losses, averaged over the samples.

    Args:
        m: [M, K, H, W] probabilities (softmax over K).
        pixels: [H, W] bool, the pixels that count (None: all).

    Returns:
        ``(balance, max_colour)``, scalars: ``log K - H(u)`` with ``u_k`` the mean of ``m_k``
        over the pixels (0 when the K colours are used evenly, up to ``log K``), and
        ``1 - mean_k max_p m_k(p)`` (0 when every colour is chosen with certainty somewhere).

    >>> even = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])     # 2 colours, one pixel each
    >>> [round(float(v), 6) for v in palette_losses(even)]
    [0.0, 0.0]
    >>> one = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]]]])      # colour 1 never used
    >>> [round(float(v), 4) for v in palette_losses(one)]
    [0.6931, 0.5]
    """
    flat = m.flatten(2)
    if pixels is not None:
        flat = flat[..., pixels.reshape(-1).to(flat.device)]
    usage = flat.mean(-1)
    entropy = -torch.special.xlogy(usage, usage).sum(-1)
    balance = math.log(m.shape[1]) - entropy
    max_colour = 1.0 - flat.amax(-1).mean(-1)
    return balance.mean(), max_colour.mean()


def hard_assignment(m: torch.Tensor) -> torch.Tensor:
    """The index map: ``argmax_k m_k(p)`` (the first of tied colours).

    Args:
        m: [M, K, H, W] probabilities.

    Returns:
        [M, H, W] int64 in ``[0, K)``.

    >>> hard_assignment(torch.tensor([[[[0.9, 0.2]], [[0.1, 0.8]]]])).tolist()
    [[[0, 1]]]
    """
    return m.argmax(dim=1)


def decode_indices(indices: torch.Tensor, palettes: torch.Tensor,
                   constant: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Samples from index maps and palettes: ``x[n, :, h, w] = palettes[n, indices[n, h, w]]``,
    then every constant element set to its value. Eval forward and the file codec both decode
    with this function.

    Args:
        indices: [N, H, W] integers in ``[0, K)``.
        palettes: [N, K, C] float32 colours.
        constant: ``(mask, values)`` [C, H, W] of the constant elements, or None.

    Returns:
        [N, C, H, W] with the palettes' dtype (differentiable in ``palettes``).

    >>> decode_indices(torch.tensor([[[1, 0]]]), torch.tensor([[[0.5], [2.5]]])).tolist()
    [[[[2.5, 0.5]]]]

    Raises:
        ValueError: shapes that do not match, or an index outside ``[0, K)``.
    """
    if indices.ndim != 3 or palettes.ndim != 3 or indices.shape[0] != palettes.shape[0]:
        raise ValueError(f"indices [N, H, W] and palettes [N, K, C] must agree, got {list(indices.shape)} and "
                         f"{list(palettes.shape)}")
    n, h, w = indices.shape
    k, c = palettes.shape[1:]
    index = indices.to(device=palettes.device, dtype=torch.int64).reshape(n, h * w)
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= k):
        raise ValueError(f"an index is {int(index.max()) if int(index.max()) >= k else int(index.min())}, "
                         f"outside [0, {k}) for palettes of {k} colours")
    x = palettes.gather(1, index.unsqueeze(-1).expand(n, h * w, c))
    x = x.transpose(1, 2).reshape(n, c, h, w)
    return apply_constant(x, *constant) if constant is not None else x


# --- the network -----------------------------------------------------------------------------

class PaletteNet(nn.Module):
    """One convolution ``Conv2d(C, K, 1)``: per-pixel logits of the K colours.

    The weights and biases are drawn uniformly in ``+-1/sqrt(C)`` (PyTorch's default range)
    from ``generator``; the input is standardised per channel with the real data's mean and
    standard deviation.

    Args:
        channels: C; colors: K; mean, std: [C] float32 of the real data.
        generator: a CPU generator (None: torch's default).
    """

    def __init__(self, channels: int, colors: int, mean: torch.Tensor, std: torch.Tensor, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, colors, KERNEL, padding=KERNEL // 2)
        bound = 1.0 / math.sqrt(channels * KERNEL * KERNEL)
        with torch.no_grad():
            for param in (self.conv.weight, self.conv.bias):
                param.copy_((torch.rand(param.shape, generator=generator) * 2 - 1) * bound)
        self.register_buffer("mean", mean.detach().float().reshape(1, channels, 1, 1).clone())
        self.register_buffer("std", std.detach().float().reshape(1, channels, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[M, C, H, W] samples -> [M, K, H, W] probabilities (softmax over K)."""
        return torch.softmax(self.conv((x - self.mean) / self.std), dim=1)


# --- the parameterization ------------------------------------------------------------------

@register_param("palette")
class AutoPalette(Parameterization):
    """AutoPalette (the module docstring): the latent is the samples, P maps each to an index
    map into its own palette of ``settings.colors`` colours.

    Results of :meth:`fit`: ``shape_`` (C, H, W), ``pixels_`` [H, W] bool (True: the pixel gets
    an index), ``constant_`` (mask, values) [C, H, W] or None, ``net_`` (:class:`PaletteNet`).
    """

    quantizable = False
    latent_is_sample = True

    def __init__(self, settings: "ParamSettings", *, generator: torch.Generator | None = None) -> None:
        super().__init__(settings, generator=generator)
        self.colors = int(settings.colors)
        self.index_bits = palette_index_bits(self.colors)

    # set-up ------------------------------------------------------------------------------
    def fit(self, x_real: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None) -> "AutoPalette":
        """Build the palette network for the real data's shape and note the constant pixels.

        Args:
            x_real: [N, C, H, W] float32 real training samples.
            constant: ``(mask, values)`` [C, H, W] of the constant elements, or None.

        Raises:
            ValueError: samples that are not image-like [C, H, W], a constant mask of another
                shape, or no pixel that varies.
        """
        if not torch.is_tensor(x_real) or x_real.ndim != 4 or x_real.shape[0] == 0:
            shape = list(x_real.shape[1:]) if torch.is_tensor(x_real) else type(x_real).__name__
            raise ValueError(f"--param palette needs image-like samples [C, H, W], got samples of shape {shape}; "
                             "use --param none or --param fred for these data")
        shape = tuple(int(s) for s in x_real.shape[1:])
        device = x_real.device
        if constant is not None:
            mask, values = constant
            if tuple(mask.shape) != shape or tuple(values.shape) != shape or mask.dtype != torch.bool:
                raise ValueError(f"the constant mask and values must be bool and float [{', '.join(map(str, shape))}]"
                                 f" like the samples, got {list(mask.shape)} and {list(values.shape)}")
            constant = (mask.to(device), values.to(device=device, dtype=torch.float32))
            pixels = ~constant[0].all(dim=0)
        else:
            pixels = torch.ones(shape[1:], dtype=torch.bool, device=device)
        if not bool(pixels.any()):
            raise ValueError("every pixel is constant over the real data, so a palette has nothing to index; "
                             "use --param none")
        x = x_real.detach().float()
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3), unbiased=False)
        std = torch.where(torch.isfinite(std) & (std > 0), std, torch.ones_like(std))
        self.shape_ = shape
        # buffers (they follow .to(device)), not checkpointed: fit derives them from the data
        self.register_buffer("pixels_", pixels, persistent=False)
        self.register_buffer("constant_mask_", None if constant is None else constant[0], persistent=False)
        self.register_buffer("constant_values_", None if constant is None else constant[1], persistent=False)
        self.net_ = PaletteNet(shape[0], self.colors, mean.cpu(), std.cpu(), generator=self.generator).to(device)
        return self

    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The samples themselves (a float32 clone) [M, C, H, W]."""
        self._check(x)
        return x.detach().float().clone()

    def prepare(self, latent: torch.Tensor) -> dict[str, float]:
        """Warm-up: ``settings.warmup`` Adam steps (lr ``settings.lr``) on the network alone,
        minimising MSE(soft image, latent) plus the weighted palette losses.

        Returns:
            ``palette_warmup_steps``, the last ``palette_warmup_mse``, ``palette_balance``,
            ``palette_max``.
        """
        self._check(latent)
        target = latent.detach()
        steps = int(self.settings.warmup)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.settings.lr)
        with torch.enable_grad():
            for _ in range(steps):
                m = self.net_(target)
                mse = F.mse_loss(self._soft(target, m), target)
                reg, _ = self._weighted(m)
                opt.zero_grad(set_to_none=True)
                (mse + reg).backward()
                opt.step()
        with torch.no_grad():
            m = self.net_(target)
            mse = F.mse_loss(self._soft(target, m), target)
            _, info = self._weighted(m)
        return {"palette_warmup_steps": float(steps), "palette_warmup_mse": float(mse), **info}

    # the map ---------------------------------------------------------------------------------
    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """[M, C, H, W] samples: soft in train mode, hard (what the file decodes to) in eval mode."""
        self._check(latent)
        if self.training:
            return self._soft(latent, self.net_(latent))
        return decode_indices(*self._hard(latent), self.constant_)

    def regularization(self, latent: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """``balance_weight * balance + max_weight * max_colour`` on the current latent, and the
        two unweighted losses (``palette_balance``, ``palette_max``)."""
        self._check(latent)
        return self._weighted(self.net_(latent))

    @torch.no_grad()
    def encode(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the file stores (eval/hard): ``(indices [M, H, W] uint8, palettes [M, K, C]
        float32)``; a constant pixel's index is 0."""
        self._check(latent)
        indices, palettes = self._hard(latent)
        return indices.to(torch.uint8), palettes.detach().float()

    @property
    def constant_(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(mask, values)`` [C, H, W] of the constant elements (None: the run keeps none)."""
        mask = getattr(self, "constant_mask_", None)
        return None if mask is None else (mask, self.constant_values_)

    @classmethod
    def codec(cls) -> "Codec":
        """The ``palette`` file codec (:mod:`beamsim.distill.param.palette_file`)."""
        from beamsim.distill.files.codec import get_codec
        from beamsim.distill.param import palette_file  # noqa: F401  (registers the codec)

        return get_codec("palette")

    # helpers ---------------------------------------------------------------------------------
    def _check(self, latent: torch.Tensor) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("call fit() before using the palette parameterization")
        if latent.ndim != 4 or tuple(latent.shape[1:]) != self.shape_:
            raise ValueError(f"palette samples must be [M, {', '.join(map(str, self.shape_))}], got "
                             f"{list(latent.shape)}")

    def _soft(self, latent: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        weights = m * self.pixels_.to(m.dtype)
        x = soft_image(m, palette_colors(latent, weights))
        return apply_constant(x, *self.constant_) if self.constant_ is not None else x

    def _hard(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.where(self.pixels_, hard_assignment(self.net_(latent)), 0)
        one_hot = latent.new_zeros((latent.shape[0], self.colors, *self.shape_[1:]))
        one_hot.scatter_(1, indices.unsqueeze(1), 1.0)  # one write per pixel: deterministic on every device
        return indices, palette_colors(latent, one_hot * self.pixels_.to(latent.dtype))

    def _weighted(self, m: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        balance, max_colour = palette_losses(m, self.pixels_)
        total = self.settings.balance_weight * balance + self.settings.max_weight * max_colour
        return total, {"palette_balance": float(balance.detach()), "palette_max": float(max_colour.detach())}

"""FreD: each synthetic sample is a few DCT coefficients per channel (Shin et al., NeurIPS 2023).

The kept frequency positions are chosen once, per channel, from the real data: the
orthonormal 2-D DCT (:mod:`.dct`) of every real sample, the variance of every coefficient
over the samples, and the ``k`` positions with the largest explained-variance ratio
(variance / the channel's total variance; ties go to the lower flat index, so the choice is
deterministic). One frequency mask serves the whole synthetic set. A latent is ``[M, C, k]``:
channel ``c``'s ``k`` coefficients at the mask's positions in row-major (flat index) order.
Decoding scatters them into a zero ``H x W`` grid, inverts the DCT and overwrites the
features constant over the real data with their values
(:func:`beamsim.distill.constant.apply_constant`); those are not learned and are stored once.

With QuADD's in-loop quantizer on the latent (``quantizable``), this is QuADD + FreD: the loss
sees ``P(Q(L))`` and the file holds the quantizer's codes of ``L``
(:mod:`.fred_file`, codec ``fred``).

Pure parts (no state):

>>> fred_payload_bits(3200, 1, 16, 6)      # 64 classes x 50 beam maps, 16 coefficients at 6 bits
307200
>>> coefficients_per_channel(0, 8, 8), coefficients_per_channel(20, 8, 8)
(16, 20)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from beamsim.distill.bits import FLOAT_BITS, overhead_bits, payload_bits
from beamsim.distill.constant import apply_constant
from beamsim.distill.param.base import Parameterization
from beamsim.distill.param.dct import dct2, idct2
from beamsim.distill.param.registry import register_param
from beamsim.distill.settings import ParamSettings

if TYPE_CHECKING:
    from beamsim.distill.files.codec import Codec

__all__ = ["FreD", "explained_variance_ratio", "select_frequencies", "coefficients_per_channel",
           "fred_payload_bits", "fred_overhead_bits"]

#: Elements of real data transformed at once while fitting (bounds the float64 copies).
_CHUNK_ELEMENTS = 2**22


# --- pure functions ------------------------------------------------------------------------------

def _ratio(variance: torch.Tensor) -> torch.Tensor:
    """[C, H, W] variances -> their share of their channel's total (zeros for a zero total)."""
    total = variance.sum(dim=(-2, -1), keepdim=True)
    return torch.where(total > 0, variance / torch.where(total > 0, total, torch.ones_like(total)),
                       torch.zeros_like(variance))


def explained_variance_ratio(coefficients: torch.Tensor) -> torch.Tensor:
    """The share of its channel's variance each DCT coefficient position carries.

    Args:
        coefficients: [N, C, H, W] float, the DCT coefficients of N samples (N >= 1).

    Returns:
        [C, H, W], same dtype: the variance over the samples (population, ``1/N``) of each
        position divided by the sum over the channel's positions; each channel sums to 1, or
        is all zeros when its total variance is zero.

    Raises:
        ValueError: not a float tensor [N, C, H, W] with N >= 1.

    >>> c = torch.zeros(4, 1, 2, 2); c[:, 0, 0, 1] = torch.tensor([1., -1., 1., -1.])
    >>> c[:, 0, 1, 0] = torch.tensor([3., -3., 3., -3.])
    >>> explained_variance_ratio(c)[0].tolist()
    [[0.0, 0.10000000149011612], [0.8999999761581421, 0.0]]
    >>> explained_variance_ratio(torch.ones(3, 1, 2, 2)).sum().item()
    0.0
    """
    if not torch.is_tensor(coefficients) or not coefficients.is_floating_point() or coefficients.ndim != 4 \
            or coefficients.shape[0] == 0:
        raise ValueError(f"coefficients must be a float tensor [N, C, H, W] with N >= 1, got shape "
                         f"{list(getattr(coefficients, 'shape', []))}")
    return _ratio(coefficients.var(dim=0, unbiased=False))


def select_frequencies(ratio: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` positions of each channel with the largest explained-variance ratio.

    Args:
        ratio: [C, H, W] float, from :func:`explained_variance_ratio`.
        k: positions kept per channel, ``1 <= k <= H W``.

    Returns:
        [C, H, W] bool, exactly ``k`` True per channel; equal ratios go to the lower flat
        (row-major) index.

    Raises:
        ValueError: ``ratio`` is not [C, H, W] float, or ``k`` is outside ``1..H W``.

    >>> select_frequencies(torch.tensor([[[0.1, 0.4], [0.4, 0.1]]]), 1).int().tolist()
    [[[0, 1], [0, 0]]]
    >>> select_frequencies(torch.tensor([[[0.0, 0.0], [0.0, 0.0]]]), 3).int().tolist()
    [[[1, 1], [1, 0]]]
    """
    if not torch.is_tensor(ratio) or not ratio.is_floating_point() or ratio.ndim != 3:
        raise ValueError(f"ratio must be a float tensor [C, H, W], got shape {list(getattr(ratio, 'shape', []))}")
    c, h, w = (int(s) for s in ratio.shape)
    k = coefficients_per_channel(k, h, w, resolve_zero=False)
    order = torch.argsort(ratio.reshape(c, h * w), dim=1, descending=True, stable=True)
    mask = torch.zeros(c, h * w, dtype=torch.bool, device=ratio.device)
    mask.scatter_(1, order[:, :k], True)
    return mask.view(c, h, w)


def coefficients_per_channel(requested: int, height: int, width: int, *, resolve_zero: bool = True) -> int:
    """The coefficients ``k`` kept per channel of ``height x width`` maps.

    Args:
        requested: ``--coefficients`` (0: a quarter of the channel, ``max(1, H W // 4)``).
        height, width: the channel's size.
        resolve_zero: resolve 0 as above (False: 0 is refused).

    Raises:
        ValueError: ``requested`` is negative, 0 when not resolved, or more than ``H W``.
    """
    hw = int(height) * int(width)
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0 \
            or (requested == 0 and not resolve_zero):
        raise ValueError(f"--coefficients {requested!r} must be an integer in 1..{hw} "
                         f"(0: a quarter, {max(1, hw // 4)})")
    if requested == 0:
        return max(1, hw // 4)
    if requested > hw:
        raise ValueError(f"--coefficients {requested} is more than the {hw} DCT coefficients of "
                         f"each {height}x{width} channel; use 1..{hw}")
    return requested


def fred_payload_bits(num_samples: int, channels: int, k: int, bits: int) -> int:
    """FreD's payload: ``num_samples x channels x k x bits`` (``k`` coefficients per channel,
    ``bits`` each: the quantizer's width, or 32 for float32 coefficients).

    >>> fred_payload_bits(100, 3, 256, 32)
    2457600
    """
    return payload_bits(num_samples, int(channels) * int(k), bits)


def fred_overhead_bits(sample_shape: tuple[int, int, int], *, num_thresholds: int = 0, num_classes: int = 0,
                       constant_elements: int = 0) -> int:
    """Everything a FreD file stores besides its payload.

    The frequency mask (``C H W`` bits: one per sample position), then as
    :func:`beamsim.distill.bits.overhead_bits`: ``num_thresholds`` 32-bit quantizer
    parameters, ``C_classes`` 32-bit class counts, the constant features (a ``C H W``-bit mask
    plus 32 bits per constant value, when there are any) and the 128-bit header.

    Args:
        sample_shape: ``(C, H, W)``; num_classes: ``C_classes``;
        num_thresholds: the quantizer's stored parameters (thresholds and decode state);
        constant_elements: sample positions constant over the real data.

    >>> fred_overhead_bits((1, 8, 8), num_thresholds=16, num_classes=64, constant_elements=32)
    3840
    >>> fred_overhead_bits((1, 8, 8), num_classes=64)   # float32 coefficients, no constants
    2240
    """
    d = 1
    for size in sample_shape:
        d *= int(size)
    return d + overhead_bits(num_thresholds, num_classes, labels="counts", constant_elements=constant_elements,
                             elements_per_sample=d, bits=FLOAT_BITS)


def _coefficient_variance(x: torch.Tensor) -> torch.Tensor:
    """[C, H, W] float64: the population variance of the DCT coefficients of ``x`` [N, C, H, W]
    over N, in chunks (two passes: the DCT is linear, so coefficients minus their mean are
    the DCT of ``x`` minus its mean)."""
    n = int(x.shape[0])
    rows = max(1, _CHUNK_ELEMENTS // max(1, x[0].numel()))
    total = torch.zeros(x.shape[1:], dtype=torch.float64, device=x.device)
    for start in range(0, n, rows):
        total += x[start:start + rows].detach().double().sum(dim=0)
    mean = total / n
    squares = torch.zeros_like(mean)
    for start in range(0, n, rows):
        squares += dct2(x[start:start + rows].detach().double() - mean).square().sum(dim=0)
    return squares / n


# --- the parameterization ------------------------------------------------------------------------

@register_param("fred")
class FreD(Parameterization):
    """Samples as ``k`` DCT coefficients per channel at positions chosen from the real data.

    Args:
        settings: the ``[param]`` group (``coefficients``: ``k``, 0 for a quarter of H x W).
        generator: unused (FreD draws nothing).

    Buffers (set by :meth:`fit` or :meth:`from_masks`; empty before):
        freq_mask: [C, H, W] bool, exactly ``k`` True per channel: the kept coefficients.
        constant_mask: [C, H, W] bool, the features constant over the real data (all False
            without constants).
        constant_values: [C, H, W] float32, their values (0 elsewhere).
    """

    quantizable = True
    latent_is_sample = False

    def __init__(self, settings: ParamSettings, *, generator: torch.Generator | None = None) -> None:
        super().__init__(settings, generator=generator)
        self.register_buffer("freq_mask", torch.zeros(0, 0, 0, dtype=torch.bool))
        self.register_buffer("constant_mask", torch.zeros(0, 0, 0, dtype=torch.bool))
        self.register_buffer("constant_values", torch.zeros(0, 0, 0, dtype=torch.float32))

    # -- description ------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        """True once the frequency mask is set."""
        return self.freq_mask.numel() > 0

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of a decoded sample."""
        self._need_fit()
        return tuple(int(s) for s in self.freq_mask.shape)  # type: ignore[return-value]

    @property
    def coefficients_(self) -> int:
        """``k``, coefficients kept per channel."""
        self._need_fit()
        return int(self.freq_mask[0].sum())

    @property
    def latent_shape(self) -> tuple[int, int]:
        """``(C, k)`` of one sample's latent."""
        return self.sample_shape[0], self.coefficients_

    @property
    def constant_elements(self) -> int:
        """Sample positions held at a constant value (0 without constants)."""
        return int(self.constant_mask.sum()) if self.fitted else 0

    def extra_repr(self) -> str:
        return f"coefficients={self.coefficients_}, sample_shape={list(self.sample_shape)}" if self.fitted \
            else f"coefficients={self.settings.coefficients}, not fitted"

    # -- set-up -----------------------------------------------------------------------------------
    def fit(self, x_real: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None) -> "FreD":
        """Choose the kept frequencies from the real data (module docstring).

        Args:
            x_real: [N, C, H, W] float real training samples.
            constant: ``(mask, values)`` [C, H, W] of the features constant over the real data,
                or None.

        Raises:
            ValueError: ``x_real`` is not a finite float [N, C, H, W] with N >= 1, or
                ``--coefficients`` is more than ``H W`` (one line, the fix).
        """
        if not torch.is_tensor(x_real) or not x_real.is_floating_point() or x_real.ndim != 4 or x_real.shape[0] == 0:
            raise ValueError(f"--param fred needs float samples [N, C, H, W] (channels of H x W maps), got shape "
                             f"{list(getattr(x_real, 'shape', []))}; use --param none for other data")
        if not bool(torch.isfinite(x_real).all()):
            raise ValueError("--param fred: the real data contains NaN or infinite values; clean the training set")
        _, _, h, w = (int(s) for s in x_real.shape)
        k = coefficients_per_channel(self.settings.coefficients, h, w)
        mask = select_frequencies(_ratio(_coefficient_variance(x_real)), k)
        self._set_state(mask, constant)
        return self

    @classmethod
    def check_shape(cls, settings: ParamSettings, shape: tuple[int, ...]) -> None:
        super().check_shape(settings, shape)
        coefficients_per_channel(settings.coefficients, shape[1], shape[2])

    @classmethod
    def from_masks(cls, freq_mask: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None = None) -> "FreD":
        """A fitted FreD from its frequency mask and constants (what a file stores).

        Args:
            freq_mask: [C, H, W] bool, the same number ``k >= 1`` of True in every channel.
            constant: ``(mask, values)`` [C, H, W] or None.

        Raises:
            ValueError: a mask of another shape or dtype, or channels keeping different counts.
        """
        if not torch.is_tensor(freq_mask) or freq_mask.dtype != torch.bool or freq_mask.ndim != 3 \
                or freq_mask.numel() == 0:
            raise ValueError("freq_mask must be a non-empty bool tensor [C, H, W]")
        kept = freq_mask.reshape(freq_mask.shape[0], -1).sum(dim=1)
        if int(kept.min()) < 1 or int(kept.max()) != int(kept.min()):
            raise ValueError(f"freq_mask must keep the same number (>= 1) of coefficients in every channel, "
                             f"keeps {kept.tolist()}")
        param = cls(ParamSettings(name="fred", coefficients=int(kept[0])))
        param._set_state(freq_mask, constant)
        return param

    def _set_state(self, freq_mask: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        shape, device = tuple(freq_mask.shape), freq_mask.device
        if constant is None:
            mask = torch.zeros(shape, dtype=torch.bool, device=device)
            values = torch.zeros(shape, dtype=torch.float32, device=device)
        else:
            mask, values = constant
            if not torch.is_tensor(mask) or mask.dtype != torch.bool or tuple(mask.shape) != shape \
                    or not torch.is_tensor(values) or tuple(values.shape) != shape:
                raise ValueError(f"the constant features must be a bool mask and values of the sample shape "
                                 f"{list(shape)}")
            mask = mask.to(device)
            values = torch.where(mask, values.detach().to(device=device, dtype=torch.float32), 0.0)
        self.freq_mask = freq_mask.detach().clone()
        self.constant_mask = mask.detach().clone()
        self.constant_values = values.clone()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The buffers' shapes come from the data: take them from the state being loaded.
        for name in ("freq_mask", "constant_mask", "constant_values"):
            value = state_dict.get(prefix + name)
            current = getattr(self, name)
            if torch.is_tensor(value) and value.shape != current.shape:
                setattr(self, name, torch.empty(value.shape, dtype=current.dtype, device=current.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- the map -----------------------------------------------------------------------------------
    def _need_fit(self) -> None:
        if not self.fitted:
            raise RuntimeError("FreD is not fitted: call fit(x_real, constant) first")

    def _index(self, device: torch.device) -> torch.Tensor:
        """[C, k] int64: each channel's kept flat positions, ascending."""
        c, k = self.latent_shape
        return self.freq_mask.reshape(c, -1).nonzero()[:, 1].reshape(c, k).to(device)

    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent whose decoding is nearest ``x`` (least squares) at the varying features:
        the kept DCT coefficients of ``x`` without constants (the DCT is orthonormal), else the
        fit to the varying positions alone, as the constants are restored after decoding.

        Args:
            x: [M, C, H, W] float samples.

        Returns:
            [M, C, k] float32 (computed in float64).

        Raises:
            ValueError: ``x`` is not [M, C, H, W] of the fitted shape.
        """
        self._need_fit()
        if not torch.is_tensor(x) or not x.is_floating_point() or tuple(x.shape[1:]) != self.sample_shape \
                or x.ndim != 4:
            raise ValueError(f"FreD.to_latent needs float samples [M, {', '.join(map(str, self.sample_shape))}], "
                             f"got {list(getattr(x, 'shape', []))}")
        m, (c, k), (_, h, w) = int(x.shape[0]), self.latent_shape, self.sample_shape
        index = self._index(x.device)
        if not self.constant_elements:
            return dct2(x.double()).reshape(m, c, -1).gather(2, index.expand(m, -1, -1)).float()
        latent = torch.empty(m, c, k, dtype=torch.float64, device=x.device)
        for ch, free in enumerate(~self.constant_mask.reshape(c, -1)):
            unit = torch.zeros(k, h * w, dtype=torch.float64, device=x.device).scatter_(1, index[ch, :, None], 1.0)
            basis = idct2(unit.reshape(k, h, w)).reshape(k, -1)[:, free]  # each kept coefficient, decoded
            latent[:, ch] = (torch.linalg.pinv(basis.T) @ x[:, ch].reshape(m, -1)[:, free].double().T).T
        return latent.float()

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Decode a latent: scatter, inverse DCT (in float64), then the constant features.

        The same in train and eval mode; a file of this set decodes to exactly this output.

        Args:
            latent: [M, C, k] float coefficients.

        Returns:
            [M, C, H, W] float32, differentiable in ``latent`` (no gradient reaches the
            constant positions).

        Raises:
            ValueError: ``latent`` is not [M, C, k] float.
        """
        self._need_fit()
        c, k = self.latent_shape
        if not torch.is_tensor(latent) or not latent.is_floating_point() or latent.ndim != 3 \
                or tuple(latent.shape[1:]) != (c, k):
            raise ValueError(f"FreD needs a float latent [M, {c}, {k}], got {list(getattr(latent, 'shape', []))}")
        m = int(latent.shape[0])
        _, h, w = self.sample_shape
        grid = torch.zeros(m, c, h * w, dtype=torch.float64, device=latent.device)
        grid = grid.scatter(2, self._index(latent.device).expand(m, -1, -1), latent.double())
        x = idct2(grid.reshape(m, c, h, w)).float()
        if self.constant_elements:
            x = apply_constant(x, self.constant_mask, self.constant_values)
        return x

    @classmethod
    def codec(cls) -> "Codec":
        """The ``fred`` codec (:class:`beamsim.distill.param.fred_file.FredCodec`)."""
        from beamsim.distill.files.codec import get_codec
        from beamsim.distill.param import fred_file  # noqa: F401  (registers the codec)

        return get_codec("fred")

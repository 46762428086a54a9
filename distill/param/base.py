"""What a parameterization is: a differentiable map from a learned latent to samples.

Without a parameterization QuADD learns the samples S themselves and the loss sees Q(S). With
one, QuADD learns a latent L instead and the loss sees ``P(Q(L))`` (FreD: L are DCT
coefficients, Q quantizes them for QuADD + FreD, P is the inverse DCT) or ``P(L)``
(AutoPalette: L are samples, P maps each to an index map into its own palette; no Q). The
distilled file stores what P needs to rebuild the samples, counted bit for bit.

The life of a parameterization in a run (:class:`beamsim.distill.quadd.QuADD` calls, in order)::

    P = build_param(config.param, generator=...)
    P.fit(x_real, constant)            data-dependent set-up (FreD: the kept frequencies)
    L = P.to_latent(x_init)            the initial latent from the initial samples
    x = P(L)        train mode         differentiable samples [M, *shape] (AutoPalette: soft)
    r, info = P.regularization(L)      extra loss terms added to the objective's loss
    x = P.eval()(L)                    exactly what the file decodes to (AutoPalette: hard)
    P.codec().write(path, L, y, P, quantizer, num_classes=..., provenance=..., settings=...)

Learnable parts of P (the palette network) are ``nn.Parameter``s; QuADD steps them with Adam
at ``config.param.lr`` and checkpoints them with the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from beamsim.distill.files.codec import Codec
    from beamsim.distill.settings import ParamSettings

__all__ = ["Parameterization"]


class Parameterization(nn.Module, ABC):
    """A map latent -> samples, fitted to the real data (see the module docstring).

    Args:
        settings: the run's ``[param]`` group.
        generator: draws whatever is initialised at random (CPU generator; None: torch's default).

    Class attributes:
        name: the registry name (set by ``@register_param``).
        quantizable: QuADD's in-loop quantizer may act on the latent (FreD: True; AutoPalette:
            False, its index maps are its quantization).
        latent_is_sample: the latent has the samples' shape and meaning, so the constant
            features and the data range project it after each step as they do S (AutoPalette:
            True; FreD: False, its decoder applies the constants).
    """

    name: ClassVar[str] = ""
    quantizable: ClassVar[bool] = False
    latent_is_sample: ClassVar[bool] = False

    def __init__(self, settings: "ParamSettings", *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.generator = generator

    @classmethod
    def check_shape(cls, settings: "ParamSettings", shape: tuple[int, ...]) -> None:
        """Refuse samples of ``shape`` (one sample, e.g. ``(1, 8, 8)``) the settings cannot
        represent, before any work; the default wants image-like samples ``[C, H, W]``.

        Raises:
            ValueError: one line with the fix.
        """
        if len(shape) != 3:
            raise ValueError(f"--param {cls.name} needs image-like samples [C, H, W], got samples of shape "
                             f"{list(shape)}; use --param none for this data")

    @abstractmethod
    def fit(self, x_real: torch.Tensor, constant: tuple[torch.Tensor, torch.Tensor] | None) -> "Parameterization":
        """Data-dependent set-up from the real training samples; returns ``self``.

        Args:
            x_real: [N, *shape] float32 real training samples (on the run's device).
            constant: ``(mask, values)`` [*shape] of the features constant over the real data
                (:func:`beamsim.distill.constant.constant_feature_mask`), or None when the run
                does not keep them; the decoded samples hold ``values`` where ``mask``.

        Raises:
            ValueError: the data's shape does not suit the parameterization (one line, the fix).
        """

    @abstractmethod
    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent [M, *latent_shape] float32 that best represents samples ``x`` [M, *shape]."""

    @abstractmethod
    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Samples [M, *shape] float32 from a latent; differentiable in train mode, exactly the
        file's decoded values in eval mode."""

    def regularization(self, latent: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Extra loss terms on the current latent (added to the objective's loss) and their log.

        The default has none: ``(0, {})``.
        """
        return latent.new_zeros(()), {}

    def prepare(self, latent: torch.Tensor) -> dict[str, float]:
        """Fit learnable parts to the initial latent before the loop (AutoPalette's warm-up);
        returns a log (the default does nothing)."""
        return {}

    @classmethod
    @abstractmethod
    def codec(cls) -> "Codec":
        """The registered file codec that writes and reads this parameterization's sets.

        Its ``write(path, latent, y, param, quantizer=None, *, num_classes=None,
        class_names=None, provenance=None, settings=None) -> dict`` stores the raw latent (the
        quantizer's codes of it when there is one) and what the decoder needs; its ``read``
        decodes exactly ``param.eval()(quantizer(latent))``; its ``describe`` reports the bits
        stored like every codec (``payload_bits_stored``, ``overhead_bits``,
        ``total_bits_stored``, ``file_bytes``, ...)."""

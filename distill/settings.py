"""The settings of a distillation run, one frozen dataclass per concern.

:class:`~beamsim.distill.config.DistillConfig` holds the run-wide settings and one group per
concern: the quantizer, the synthetic set's step, distribution/gradient matching, trajectory
matching, the experts, validation and augmentation. Each group validates itself. The field
defaults are the beam defaults, and the one place they are written (images change some of
them in ``distill/defaults/image.toml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["QuantizerSettings", "StepSettings", "MatchingSettings", "TrajectorySettings", "ExpertPoolSettings",
           "ValidationSettings", "AugmentSettings", "ParamSettings", "need", "DEFAULT_MODEL"]

#: The network of the objective (and of the experts) unless a run names another.
DEFAULT_MODEL = "beamcnn"

Granularity = Literal["feature", "channel", "tensor"]
#: The parameterizations a run may name (``[param] name``; :mod:`beamsim.distill.param`).
PARAM_NAMES = ("none", "fred", "palette")


def need(cond: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``cond``."""
    if not cond:
        raise ValueError(message)


def _int(value: object, name: str, lo: int) -> None:
    need(not isinstance(value, bool) and isinstance(value, int) and value >= lo, f"{name} must be >= {lo}")


def _number(value: object, name: str, positive: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    need(ok and (value > 0 if positive else value >= 0), f"{name} must be {'>' if positive else '>='} 0")


@dataclass(frozen=True)
class QuantizerSettings:
    """The quantizer (``[quantizer]``).

    Attributes:
        name: ``apot`` | ``uniform`` | ``fsq`` in the loop; ``ptq`` distils in full precision and
            quantizes once at the end; ``none`` keeps float32 (a registered quantizer, or none).
        bits: bits per element, 1..8 (32 only with ``name = "none"``).
        granularity: one threshold per ``feature`` (beam: 64), ``channel`` or ``tensor``.
        normalize: per-channel normalization before quantizing (images; off for beam data).
        percentile: robust percentile of |x| that initialises the thresholds.
        lr_alpha: Adam learning rate of the thresholds (0 = frozen).
    """

    name: str = "apot"
    bits: int = 6
    granularity: Granularity = "feature"
    normalize: bool = False
    percentile: float = 99.5
    lr_alpha: float = 1e-2

    def __post_init__(self) -> None:
        if self.name == "none":
            need(self.bits == 32, f"--quantizer none stores float32: use --bits 32 (got --bits {self.bits})")
        else:
            need(not isinstance(self.bits, bool) and isinstance(self.bits, int) and 1 <= self.bits <= 8,
                 f"--bits {self.bits} is out of range: use 1..8 (32 only with --quantizer none)")
        need(self.name != "fsq" or self.bits >= 2, "the fsq quantizer needs --bits >= 2")
        need(self.granularity in ("feature", "channel", "tensor"), "granularity must be feature, channel or tensor")
        need(0 < self.percentile <= 100, "percentile must lie in (0, 100]")
        _number(self.lr_alpha, "lr_alpha")


@dataclass(frozen=True)
class StepSettings:
    """How the synthetic samples move (``[step]``; an objective's table may hold its own).

    Attributes:
        lr_syn, momentum_syn: SGD on the synthetic samples.
        clip_grad: max L2 norm of the synthetic-sample gradient per step (0 = off).
    """

    lr_syn: float = 10.0
    momentum_syn: float = 0.5
    clip_grad: float = 0.0

    def __post_init__(self) -> None:
        _number(self.lr_syn, "lr_syn", positive=True)
        _number(self.momentum_syn, "momentum_syn")
        _number(self.clip_grad, "clip_grad")


@dataclass(frozen=True)
class MatchingSettings:
    """Distribution and gradient matching (``[dm]``, ``[dc]``).

    Attributes:
        real_per_class: real samples per class drawn each iteration.
        dc_inner_steps: network updates on the real batch between gradient-matching steps.
    """

    real_per_class: int = 128
    dc_inner_steps: int = 1

    def __post_init__(self) -> None:
        _int(self.real_per_class, "real_per_class", 1)
        _int(self.dc_inner_steps, "dc_inner_steps", 1)


@dataclass(frozen=True)
class TrajectorySettings:
    """Trajectory matching, MTT with DATM's widening start window (``[tm]``).

    Attributes:
        syn_steps: unrolled student steps; expert_epochs: the target is this many epochs later.
        min_start_epoch, max_start_epoch: the start-epoch window at the end of the run;
        initial_max_start_epoch: the upper end of the window at iteration 0 (it widens linearly).
        batch_syn: the student's synthetic minibatch; syn_lr_init, lr_lr: its learnable step size.
    """

    syn_steps: int = 20
    expert_epochs: int = 2
    min_start_epoch: int = 0
    max_start_epoch: int = 10
    initial_max_start_epoch: int = 4
    batch_syn: int = 256
    syn_lr_init: float = 0.1
    lr_lr: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("syn_steps", "expert_epochs", "batch_syn"):
            _int(getattr(self, name), name, 1)
        _number(self.syn_lr_init, "syn_lr_init", positive=True)
        _number(self.lr_lr, "lr_lr")
        need(0 <= self.min_start_epoch <= self.initial_max_start_epoch <= self.max_start_epoch,
             "need 0 <= min_start_epoch <= initial_max_start_epoch <= max_start_epoch")


@dataclass(frozen=True)
class ExpertPoolSettings:
    """The experts of trajectory matching (``[experts]``; :class:`beamsim.distill.experts.ExpertSettings`
    is the full training recipe built from it).

    Attributes:
        num: independent networks; epochs: epochs each trains (the trajectory has epochs + 1 rows);
        lr, momentum: constant-rate SGD (0 momentum keeps their steps like the student's);
        batch: samples per step.
    """

    num: int = 3
    epochs: int = 12
    lr: float = 0.1
    momentum: float = 0.0
    batch: int = 256

    def __post_init__(self) -> None:
        for name in ("num", "epochs", "batch"):
            _int(getattr(self, name), {"num": "num_experts", "epochs": "expert_epochs_train",
                                       "batch": "expert_batch"}[name], 1)
        _number(self.lr, "expert_lr", positive=True)
        _number(self.momentum, "expert_momentum")


@dataclass(frozen=True)
class ValidationSettings:
    """Selection of the kept set on a held-out part of the training split (``[validation]``).

    Attributes:
        fraction: share of the training split held out (0 = off; never the test split).
        every: iterations between validations; epochs: training epochs of the quick model.
        patience: stop once this many validations in a row have not beaten the best before them
            (0 = off: run every iteration).
    """

    fraction: float = 0.1
    every: int = 50
    epochs: int = 30
    patience: int = 0

    def __post_init__(self) -> None:
        need(not isinstance(self.fraction, bool) and isinstance(self.fraction, (int, float))
             and 0 <= self.fraction < 0.5, "val_fraction must lie in [0, 0.5)")
        _int(self.every, "val_every", 1)
        _int(self.epochs, "val_epochs", 1)
        _int(self.patience, "val_patience", 0)


@dataclass(frozen=True)
class AugmentSettings:
    """Differentiable siamese augmentation (``[augment]``; images only, never beam maps).

    Attributes:
        dsa: DSA in the objectives, the experts and the validation model.
        strategy: DSA op groups joined by ``_`` (see :mod:`beamsim.distill.data.augment`).
    """

    dsa: bool = False
    strategy: str = "color_crop_cutout_flip_scale_rotate"

    def __post_init__(self) -> None:
        need(isinstance(self.dsa, bool), f"dsa must be true or false, not {self.dsa!r}")
        from beamsim.distill.data.augment import DSAConfig

        DSAConfig(strategy=self.strategy)  # raises ValueError naming the known op groups


@dataclass(frozen=True)
class ParamSettings:
    """How a synthetic sample is parameterized (``[param]``; :mod:`beamsim.distill.param`).

    Attributes:
        name: ``none`` (the samples themselves), ``fred`` (a few DCT coefficients per channel,
            chosen by explained variance on the real data; with an in-loop quantizer the
            coefficients are quantized: QuADD + FreD) or ``palette`` (AutoPalette: an index map
            into a per-sample palette of ``colors`` colours; no quantizer).
        coefficients: FreD's DCT coefficients kept per channel (0: a quarter of the channel's
            H x W elements).
        colors: AutoPalette's palette size K, a power of two in 2..256 (log2 K bits per pixel).
        lr: Adam learning rate of the palette network (0.1: its warm-up fits umi maps as well as
            at 300 steps in 100; 0.01 did not converge in 100).
        balance_weight, max_weight: AutoPalette's palette-balance and maximum-colour losses.
        warmup: steps that fit the palette network to the initial samples before the loop.
    """

    name: str = "none"
    coefficients: int = 0
    colors: int = 16
    lr: float = 0.1
    balance_weight: float = 1.0
    max_weight: float = 1.0
    warmup: int = 100

    def __post_init__(self) -> None:
        need(self.name in PARAM_NAMES, f"unknown --param {self.name!r}: use one of {', '.join(PARAM_NAMES)}")
        _int(self.coefficients, "--coefficients", 0)
        need(not isinstance(self.colors, bool) and isinstance(self.colors, int) and 2 <= self.colors <= 256
             and self.colors & (self.colors - 1) == 0,
             f"--colors {self.colors} must be a power of two in 2..256 (an index of log2 K bits)")
        _number(self.lr, "lr_param", positive=True)
        _number(self.balance_weight, "palette_balance")
        _number(self.max_weight, "palette_max")
        _int(self.warmup, "palette_warmup", 0)


@dataclass(frozen=True)
class LabelSettings:
    """Learned soft labels (``[labels]``; :mod:`beamsim.distill.labels`), trajectory matching only.

    Attributes:
        soft: learn and store a soft label per sample (False: the hard class of its row, free
            in the file: the per-class counts).
        top_k: classes stored per sample; bits: bits per stored code (a sample's label costs
            ``top_k (ceil(log2 C) + bits)`` bits, counted in the file's bits).
        lr: SGD step of the label logits (the samples' momentum).
    """

    soft: bool = False
    top_k: int = 4
    bits: int = 4
    lr: float = 2.0

    def __post_init__(self) -> None:
        need(isinstance(self.soft, bool), f"soft_labels must be true or false, not {self.soft!r}")
        _int(self.top_k, "label_topk", 1)
        need(not isinstance(self.bits, bool) and isinstance(self.bits, int) and 1 <= self.bits <= 8,
             f"label_bits must lie in 1..8, not {self.bits!r}")
        _number(self.lr, "lr_label", positive=True)

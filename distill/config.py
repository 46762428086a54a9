"""The settings of a distillation run: one frozen dataclass that validates itself.

Defaults for each modality live in TOML files shipped with the package
(``distill/defaults/beam.toml``, ``image.toml``); :func:`default_config` reads them and any
field can be overridden by keyword or by a user TOML file (``beamsim distill --config``).
Every distilled file stores the full resolved config.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from beamsim import tomlio

__all__ = ["DistillConfig", "default_config", "load_config", "read_config", "resolve_config", "shipped_defaults",
           "OBJECTIVES", "QUANTIZERS", "INITS"]

OBJECTIVES = ("tm", "dm", "dc", "none")
QUANTIZERS = ("apot", "uniform", "fsq", "ptq", "none")
INITS = ("real", "quant-graphcut", "noise", "herding", "kcenter")

Objective = Literal["tm", "dm", "dc", "none"]
QuantizerName = Literal["apot", "uniform", "fsq", "ptq", "none"]
InitName = Literal["real", "quant-graphcut", "noise", "herding", "kcenter"]


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class DistillConfig:
    """Every setting of a QuADD run (see ``distill/defaults/beam.toml`` for the beam values).

    Synthetic set and quantizer:
        objective: ``tm`` trajectory matching, ``dm`` distribution matching, ``dc`` gradient
            matching, ``none`` (the initial selection is the result: a coreset).
        quantizer: ``apot`` | ``uniform`` | ``fsq`` in the loop; ``ptq`` distils in full precision
            and quantizes once at the end; ``none`` keeps float32.
        bits: bits per element, 1..8 (32 only with ``quantizer = "none"``).
        granularity: one threshold per ``feature`` (beam default), ``channel`` or ``tensor``.
        normalize: per-channel normalization before quantizing (images).
        percentile: robust percentile of |x| that initialises the thresholds.
        spc: synthetic samples per class.
        init: ``real`` | ``quant-graphcut`` | ``noise`` | ``herding`` | ``kcenter``.
        replacement: classes with fewer than ``spc`` real samples repeat samples (True) or keep
            the ones they have (False).
        model: network used by the objective (registry name).
        iterations: distillation iterations.
        keep_constant: features constant across the real training set stay at their constant.
        clamp: keep synthetic values inside the real data's range.

    Optimisation:
        lr_syn, momentum_syn: SGD on the synthetic samples.
        clip_grad: max L2 norm of the synthetic-sample gradient per step (0 = off).
        lr_alpha: Adam learning rate of the quantizer thresholds (0 = frozen).

    Distribution / gradient matching:
        real_per_class: real samples per class drawn each iteration.
        dc_inner_steps: network updates on the real batch between DC matching steps.

    Trajectory matching (MTT with DATM's widening start window):
        num_experts, expert_epochs_train, expert_lr, expert_momentum, expert_batch: experts.
        syn_steps: unrolled student steps; expert_epochs: target is this many epochs later.
        min_start_epoch, max_start_epoch: start-epoch window at the end of the run;
        initial_max_start_epoch: upper end of the window at iteration 0 (it widens linearly).
        batch_syn: synthetic minibatch of the student; syn_lr_init, lr_lr: learnable step size.

    Validation-based selection (a held-out part of the training split, never the test split):
        val_fraction: share of the training split held out (0 = off).
        val_every: iterations between validations; val_epochs: training epochs of the quick model.

    Checkpointing:
        checkpoint_every: iterations between checkpoints (0 = off).

    Images (``distill/defaults/image.toml``):
        dsa: differentiable siamese augmentation in the objectives, the experts and the
            validation model (never for beam maps).
        dsa_strategy: DSA op groups joined by ``_`` (see :mod:`beamsim.distill.data.augment`).
    """

    objective: Objective = "dm"
    quantizer: QuantizerName = "apot"
    bits: int = 6
    granularity: Literal["feature", "channel", "tensor"] = "feature"
    normalize: bool = False
    percentile: float = 99.5
    spc: int = 50
    init: InitName = "real"
    replacement: bool = False
    model: str = "beamcnn"
    iterations: int = 300
    keep_constant: bool = True
    clamp: bool = True
    lr_syn: float = 10.0
    momentum_syn: float = 0.5
    clip_grad: float = 0.0
    lr_alpha: float = 1e-2
    real_per_class: int = 128
    dc_inner_steps: int = 1
    num_experts: int = 3
    expert_epochs_train: int = 12
    expert_lr: float = 0.1
    expert_momentum: float = 0.0
    expert_batch: int = 256
    syn_steps: int = 20
    expert_epochs: int = 2
    min_start_epoch: int = 0
    max_start_epoch: int = 10
    initial_max_start_epoch: int = 4
    batch_syn: int = 256
    syn_lr_init: float = 0.1
    lr_lr: float = 1e-5
    val_fraction: float = 0.1
    val_every: int = 50
    val_epochs: int = 30
    checkpoint_every: int = 25
    graphcut_lambda: float = 1.0
    dsa: bool = False
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"

    def __post_init__(self) -> None:
        _need(self.objective in OBJECTIVES, f"unknown objective {self.objective!r}: use one of {', '.join(OBJECTIVES)}")
        _need(self.quantizer in QUANTIZERS, f"unknown quantizer {self.quantizer!r}: use one of {', '.join(QUANTIZERS)}")
        _need(self.init in INITS, f"unknown init {self.init!r}: use one of {', '.join(INITS)}")
        if self.quantizer == "none":
            _need(self.bits == 32, f"--quantizer none stores float32: use --bits 32 (got --bits {self.bits})")
        else:
            _need(isinstance(self.bits, int) and 1 <= self.bits <= 8,
                  f"--bits {self.bits} is out of range: use 1..8 (32 only with --quantizer none)")
        _need(self.quantizer != "fsq" or self.bits >= 2, "the fsq quantizer needs --bits >= 2")
        _need(self.granularity in ("feature", "channel", "tensor"), "granularity must be feature, channel or tensor")
        _need(0 < self.percentile <= 100, "percentile must lie in (0, 100]")
        _need(isinstance(self.spc, int) and self.spc >= 1, f"--spc must be a positive integer, not {self.spc}")
        _need(self.iterations >= 0, "--iterations must be >= 0")
        for name in ("lr_syn", "expert_lr", "syn_lr_init"):
            _need(getattr(self, name) > 0, f"{name} must be > 0")
        for name in ("momentum_syn", "clip_grad", "lr_alpha", "lr_lr", "expert_momentum"):
            _need(getattr(self, name) >= 0, f"{name} must be >= 0")
        for name in ("real_per_class", "num_experts", "expert_epochs_train", "expert_batch", "syn_steps",
                     "expert_epochs", "batch_syn", "val_epochs", "dc_inner_steps"):
            _need(getattr(self, name) >= 1, f"{name} must be >= 1")
        _need(0 <= self.min_start_epoch <= self.initial_max_start_epoch <= self.max_start_epoch,
              "need 0 <= min_start_epoch <= initial_max_start_epoch <= max_start_epoch")
        _need(self.max_start_epoch + self.expert_epochs <= self.expert_epochs_train,
              f"max_start_epoch + expert_epochs ({self.max_start_epoch + self.expert_epochs}) must not exceed "
              f"the experts' training epochs ({self.expert_epochs_train})")
        _need(0 <= self.val_fraction < 0.5, "val_fraction must lie in [0, 0.5)")
        _need(self.val_every >= 1 and self.checkpoint_every >= 0, "val_every must be >= 1, checkpoint_every >= 0")
        _need(self.graphcut_lambda >= 0, "graphcut_lambda must be >= 0")
        _need(isinstance(self.dsa, bool), f"dsa must be true or false, not {self.dsa!r}")
        from beamsim.distill.data.augment import DSAConfig

        DSAConfig(strategy=self.dsa_strategy)  # raises ValueError naming the known op groups

    @property
    def quantized_in_loop(self) -> bool:
        """True when the quantizer sits inside the distillation loop."""
        return self.quantizer in ("apot", "uniform", "fsq")

    def replace(self, **changes: Any) -> "DistillConfig":
        """A copy with ``changes`` (None values ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown distill setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every field, except the image-only ones (:data:`_LATER_FIELDS`) while they hold their
        defaults: so a beam run writes the same bytes (config text, checkpoint fingerprint) as
        before those fields existed."""
        out = dataclasses.asdict(self)
        for name in _LATER_FIELDS:
            if out[name] == _DEFAULTS[name]:
                del out[name]
        return out

    def to_toml(self) -> str:
        return tomlio.dumps(self.as_dict())


#: Fields added after the first distilled-file version; written only when set.
_LATER_FIELDS = ("dsa", "dsa_strategy")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DistillConfig)}


def _split_tables(data: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(flat keys, tables named after an objective) of a parsed TOML document."""
    tables = {key: value for key, value in data.items() if isinstance(value, dict)}
    unknown = sorted(set(tables) - set(OBJECTIVES))
    if unknown:
        raise ValueError(f"{where}: a table must be named after an objective ({', '.join(OBJECTIVES)}), "
                         f"not [{'], ['.join(unknown)}]")
    return {key: value for key, value in data.items() if key not in tables}, tables


def read_config(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A user TOML file: (flat keys, per-objective tables such as ``[tm]``), validated when
    applied with :meth:`DistillConfig.replace`.

    Raises:
        ValueError: a missing file, invalid TOML or a table not named after an objective
            (the message names the file).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path}: not valid TOML ({exc})") from None
    return _split_tables(data, f"config file {path}")


def load_config(path: str | Path, base: DistillConfig | None = None) -> DistillConfig:
    """``base`` (or the dataclass defaults) overridden by the keys of a TOML file, then by
    the file's table for the resulting objective (e.g. ``[tm]``)."""
    flat, tables = read_config(path)
    cfg = (base or DistillConfig()).replace(**flat)
    return cfg.replace(**tables.get(cfg.objective, {}))


def shipped_defaults(modality: Literal["beam", "image"] = "beam") -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The shipped defaults of ``modality``: (flat settings, per-objective tables).

    A table named after an objective (``[tm]`` in ``beam.toml``) holds the settings that
    objective uses instead of the flat ones (trajectory matching on beam maps needs a
    smaller image step than distribution matching).
    """
    entry = resources.files("beamsim.distill") / "defaults" / f"{modality}.toml"
    if not entry.is_file():
        raise ValueError(f"no distill defaults for modality {modality!r}")
    return _split_tables(tomllib.loads(entry.read_text()), f"{modality}.toml")


def default_config(modality: Literal["beam", "image"] = "beam", **overrides: Any) -> DistillConfig:
    """The shipped defaults for ``modality`` and the objective's own table, then ``overrides``.

    The objective is ``overrides["objective"]`` when given, else the shipped one; its table
    (see :func:`shipped_defaults`) applies before ``overrides``, so an explicit value always wins.

    >>> default_config("beam").objective, default_config("beam").lr_syn, default_config("beam", objective="dm").lr_syn
    ('tm', 1.0, 10.0)
    >>> default_config("beam", lr_syn=3.0).lr_syn
    3.0
    """
    flat, tables = shipped_defaults(modality)
    objective = overrides.get("objective") or flat.get("objective", DistillConfig.objective)
    return DistillConfig().replace(**flat).replace(**tables.get(objective, {})).replace(**overrides)


def resolve_config(modality: Literal["beam", "image"] = "beam", path: str | Path | None = None,
                   defaults: dict[str, Any] | None = None, **overrides: Any) -> DistillConfig:
    """What ``beamsim distill`` runs: shipped defaults, the objective's shipped table,
    ``defaults`` (e.g. a data set's model), the user file ``path`` (its flat keys, then its
    table for the objective), then ``overrides`` (None values ignored). The objective is the first one given among ``overrides``, the
    file and the shipped defaults, so ``--objective tm`` gets trajectory matching's own
    defaults unless the file or an option sets them.
    """
    user, tables = read_config(path) if path is not None else ({}, {})
    objective = overrides.get("objective") or user.get("objective")
    base = default_config(modality, **{k: v for k, v in (defaults or {}).items() if v is not None},
                          **({"objective": objective} if objective else {}))
    return base.replace(**user).replace(**tables.get(objective or base.objective, {})).replace(**overrides)

"""What a study runs with: its settings, the cache keys, and the loaded training split.

:class:`StudySettings` holds the options every study shares (the CLI's common options);
:class:`StudyContext` is a study's run-time state (the training split loaded once, where
files go). The keys that name a study's files hash everything their numbers depend on
(:func:`settings_hash`): the data set's sha256, the input encoding, a source's settings
and, for a point, the evaluation settings, plus :data:`CACHE_VERSION`.

Device and seed: :class:`StudySettings` carries ``device`` and ``seed``; nothing here seeds
the global RNG.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from beamsim.dataset import DEFAULT_ENCODING, ENCODINGS
from beamsim.experiments.protocol import EPOCHS_RULE

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.distill.provenance import Provenance

__all__ = ["CACHE_VERSION", "KPIS", "FULL_PTQ_BITS", "Progress", "settings_hash", "parse_int_list", "StudySettings",
           "StudyContext"]

#: Bump when a change in the code changes the numbers of a finished point.
CACHE_VERSION = 1
#: KPIs carried into the tables (mean and std of each; fractions, RSRP loss in dB).
KPIS: tuple[str, ...] = ("top1", "top3", "within_1db", "macro_f1", "rsrp_loss_db")
#: Bits of the post-training-quantized full training split (the papers' 8-bit reference).
FULL_PTQ_BITS = 8
#: ``progress(line)``: one human-readable line per event (the CLI prints it on stderr).
Progress = Callable[[str], None]



def settings_hash(settings: Mapping[str, Any]) -> str:
    """sha256 (hex) of a settings mapping, independent of key order.

    >>> settings_hash({"a": 1, "b": [2, 3]}) == settings_hash({"b": [2, 3], "a": 1})
    True
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_int_list(text: str | Sequence[int], name: str, lo: int = 1, hi: int | None = None) -> tuple[int, ...]:
    """``"2,3,4"`` -> ``(2, 3, 4)``: distinct integers in ``[lo, hi]``, in the given order.

    >>> parse_int_list("2, 4,8", "--bits", 1, 8)
    (2, 4, 8)

    Raises:
        ValueError: an empty list, a non-integer, a repeated or out-of-range value (the
            message names the option).
    """
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    if not items or any(item == "" for item in items):
        raise ValueError(f"{name} must be a comma-separated list of integers, e.g. 2,4,8 (got {text!r})")
    values = []
    for item in items:
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {item!r} is not an integer (give a list such as 2,4,8)") from None
        if isinstance(item, float) and item != value:
            raise ValueError(f"{name}: {item!r} is not an integer")
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise ValueError(f"{name}: {value} is out of range (use {bound})")
        if value in values:
            raise ValueError(f"{name}: {value} is given twice")
        values.append(value)
    return tuple(values)


@dataclass(frozen=True)
class StudySettings:
    """Settings every study shares (the CLI's common options).

    Attributes:
        data: the beam data-set file (its train split is distilled, its test split tests).
        out: output folder (points, CSV, JSON, PNG).
        runs: evaluation runs per point (mean and std over them).
        epochs: evaluation epochs (None: :func:`~beamsim.experiments.evaluate.default_epochs`
            of each training set's size).
        iterations: distillation iterations (None: the config's).
        objective: distillation objective ``tm | dm | dc`` (None: the config's).
        encoding: beam-map input encoding, ``attenuation`` or ``relative``.
        config: base distillation settings (None: ``default_config("beam", objective=...)``,
            with the objective's own shipped defaults); every point starts from it.
        seed: seed of every distillation and evaluation.
        device: ``auto | cpu | cuda`` or a ``torch.device`` (None: the beamsim config's).
        cache_dir: expert-trajectory cache (None: QuADD's default).
        model: evaluation network.
        executor: ``serial`` (points in order, here) or ``ray`` (uncached points as Ray tasks;
            the driver alone writes point files). Not part of any point's key: both give the
            same numbers.
        address: with ``ray``, a running Ray cluster (None: a local instance for the study).
        cpus_per_task: with ``ray``, CPU cores each point declares.
    """

    data: Path
    out: Path
    runs: int = 3
    epochs: int | None = None
    iterations: int | None = None
    objective: str | None = None
    encoding: str = DEFAULT_ENCODING
    config: DistillConfig | None = None
    seed: int = 0
    device: str | torch.device | None = None
    cache_dir: Path | None = None
    model: str = "beamcnn"
    executor: str = "serial"
    address: str | None = None
    cpus_per_task: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "out", Path(self.out))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if isinstance(self.runs, bool) or not isinstance(self.runs, int) or self.runs < 1:
            raise ValueError(f"--runs must be an integer >= 1, not {self.runs!r}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"--epochs must be an integer >= 1, not {self.epochs!r}")
        if self.iterations is not None and (not isinstance(self.iterations, int) or self.iterations < 0):
            raise ValueError(f"--iterations must be an integer >= 0, not {self.iterations!r}")
        if self.objective is not None and self.objective not in ("tm", "dm", "dc"):
            raise ValueError(f"unknown objective {self.objective!r} for a study: use tm, dm or dc")
        if self.executor not in ("serial", "ray"):
            raise ValueError(f"unknown executor {self.executor!r}: use serial or ray")
        if self.executor == "serial" and self.address is not None:
            raise ValueError("--address goes with --executor ray")
        if isinstance(self.cpus_per_task, bool) or not isinstance(self.cpus_per_task, int) or self.cpus_per_task < 1:
            raise ValueError(f"--cpus-per-task must be an integer >= 1, not {self.cpus_per_task!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}: use attenuation or relative")

    def base_config(self) -> DistillConfig:
        """The distillation settings every point starts from (objective and iterations applied)."""
        from beamsim.distill.config import default_config

        if self.config is None:  # the objective's own shipped defaults (e.g. trajectory matching's step)
            return default_config("beam", objective=self.objective, iterations=self.iterations)
        return self.config.replace(objective=self.objective, iterations=self.iterations)

    def distill_config(self, **overrides: Any) -> DistillConfig:
        """:meth:`base_config` with ``overrides``; ``objective = "none"`` runs 0 iterations,
        ``quantizer = "none"`` stores 32 bits (as ``beamsim distill`` does)."""
        cfg = self.base_config()
        if overrides.get("quantizer") == "none":
            overrides = {**overrides, "bits": 32}
        cfg = cfg.replace(**overrides)
        if cfg.objective == "none":
            cfg = cfg.replace(iterations=0)
        return cfg

    def evaluation_settings(self) -> dict[str, Any]:
        """What every point's evaluation depends on (hashed into its key): with the default
        epochs, also the version of their rule (:data:`~beamsim.experiments.protocol.EPOCHS_RULE`)."""
        settings = {"runs": self.runs, "epochs": self.epochs, "seed": self.seed, "model": self.model}
        if self.epochs is None:
            settings["epochs_rule"] = EPOCHS_RULE
        return settings


class StudyContext:
    """A study's run-time state: settings, the loaded training split and where files go.

    Attributes:
        settings: the :class:`StudySettings`.
        train: the ``BeamDataset`` train split (encoded as ``settings.encoding``).
        data_sha256: the data set's checksum.
        class_counts: [C] int64 training samples per class.
        elements: elements per sample ``d`` (64 for one 8 x 8 channel).
        full_bits: the full training split at 32 bits, ``N x d x 32``.
        device: the resolved ``torch.device``.
        progress: ``progress(line)``, one line per event.
        points_dir: ``<out>/points``.
    """

    def __init__(self, settings: StudySettings, progress: Progress | None = None) -> None:
        from beamsim.config import resolve_device
        from beamsim.dataset import BeamDataset

        self.settings = settings
        self.progress: Progress = progress or (lambda line: None)
        self.device = resolve_device(settings.device)
        self.train = BeamDataset(settings.data, "train", encoding=settings.encoding)  # type: ignore[arg-type]
        self.data_sha256 = str(self.train.checksum)
        self.num_classes = int(self.train.num_classes)
        self.class_counts = torch.bincount(self.train.labels, minlength=self.num_classes)
        self.elements = int(math.prod(self.train.input_shape))
        self.full_bits = len(self.train) * self.elements * 32
        self.out = settings.out
        self.points_dir = settings.out / "points"

    @property
    def provenance(self) -> Provenance:
        """Where the training split came from, as every distilled file of the study records it."""
        from beamsim.distill.provenance import Provenance

        return Provenance(source_sha256=self.data_sha256, source_path=str(self.settings.data),
                          source_samples=len(self.train), encoding=self.settings.encoding)

    def file_stem(self, slug: str, source_settings: Mapping[str, Any]) -> str:
        """``<slug>-<hash>``: the name of a source's files in :attr:`points_dir`."""
        key = settings_hash({"cache_version": CACHE_VERSION, "data_sha256": self.data_sha256,
                             "encoding": self.settings.encoding, "source": source_settings})
        return f"{slug}-{key[:12]}"

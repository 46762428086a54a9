"""Expert trajectories for trajectory matching: networks trained on the real data, saved every epoch.

:func:`train_experts` trains ``num_experts`` networks with plain SGD (optionally with
momentum) at a constant learning rate and records the flat parameters
(:func:`beamsim.distill.params.flatten_params` order) at initialisation and after every
epoch: one [epochs + 1, P] float32 trajectory per expert. Each expert is cached as its own
file under ``cache_dir``, named by a hash of everything that determines it (the data key,
the model, the settings, the seed and the expert's index; see :func:`expert_cache_key`), so
a later call with the same inputs loads it instead of training, a call that needs one more
expert trains only that one, and a call for fewer epochs reuses the longer cached run. A
cache file that cannot be read, does not match or is too short is retrained and overwritten.

Defaults (:class:`ExpertSettings`, from the ``[experts]`` group of the distillation config)
are tuned for beamcnn on 8 x 8 beam maps: 3 experts, SGD at a constant lr 0.1 without momentum
(the student of :func:`~beamsim.distill.objectives.trajectory_matching_loss` takes plain SGD
steps, so the experts do too), batch 256, no weight decay or label smoothing, 12 epochs (the
start window plus the matched span: 10 + 2). Measured on the
umi data set (24,000 training samples, one expert, top-1 on the 6,000 test samples), per
epoch 0..15:

- ``attenuation``, lr 0.1: 2, 24, 40, 57, 65, 70, 72, 77, 78, 78, 75, 79, 80, 81, 81, 80 %;
- ``relative``, lr 0.1: 2, 24, 49, 63, 69, 71, 74, 77, 79, 77, 75, 80, 80, 80, 81, 79 %;
- ``attenuation``, lr 0.2: 2, 38, 61, 72, 75, 78, 79, 80, 80, 79, 76, 79, 81, 81, 81, 81 %.

Full-data training reaches ~80 %; the calibration's plain SGD at lr 0.01 stayed at 45 %
after 12 epochs. lr 0.2 gets there in about half the epochs (cheaper experts, but most of
the trajectory is then a plateau). One epoch costs about 4 s on one CPU thread (so ~1 min
per 15-epoch expert); two threads on a 2-core machine that others also load took 9-20 s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from beamsim.config import derive_seed, resolve_device
from beamsim.distill.params import flatten_params, functional_forward
from beamsim.distill.settings import DEFAULT_MODEL, ExpertPoolSettings
from beamsim.fileio import atomic_path
from beamsim.models import get_model
from beamsim.models.training import train_model

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["ExpertSettings", "ExpertProgress", "train_experts", "expert_cache_key", "trajectory_accuracy",
           "default_cache_dir"]

_log = logging.getLogger(__name__)

#: Bump when the cache file layout or the training recipe changes (old files are retrained).
CACHE_VERSION = 1


#: The run's expert defaults (``[experts]`` of :class:`~beamsim.distill.config.DistillConfig`): the one source.
_POOL = ExpertPoolSettings()


@dataclass(frozen=True)
class ExpertSettings:
    """How the experts are trained.

    Attributes:
        model: registered model name (``beamsim.models.list_models()``).
        num_experts: independent networks (different init and data order), >= 1.
        epochs: training epochs recorded; the trajectory has ``epochs + 1`` rows. Matching
            only ever uses ``max_start_epoch + expert_epochs`` of them: train no more.
        lr: constant SGD learning rate, > 0.
        momentum: SGD momentum in [0, 1); 0 keeps the experts' steps like the student's.
        weight_decay: L2 penalty (SGD's ``weight_decay``), >= 0.
        batch_size: samples per step, >= 1.
        label_smoothing: of the cross-entropy, in [0, 1).
        augment: ``none``, or a DSA strategy such as ``dsa:color_crop_cutout_flip_scale_rotate``
            (images: every training batch is augmented, as MTT trains its experts).
    """

    model: str = DEFAULT_MODEL
    num_experts: int = _POOL.num
    epochs: int = _POOL.epochs
    lr: float = _POOL.lr
    momentum: float = _POOL.momentum
    weight_decay: float = 0.0
    batch_size: int = _POOL.batch
    label_smoothing: float = 0.0
    augment: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be a registered model name, got {self.model!r}")
        for name in ("num_experts", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0 (e.g. 0.1 for beamcnn), got {self.lr!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1) (0 for plain SGD), got {self.momentum!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        if self.augment != "none":
            if not self.augment.startswith("dsa:"):
                raise ValueError(f"augment must be 'none' or 'dsa:<strategy>', got {self.augment!r}")
            from beamsim.distill.data.augment import DSAConfig

            DSAConfig(strategy=self.augment[4:])

    @classmethod
    def from_config(cls, config: "DistillConfig", *, num_experts: int | None = None) -> "ExpertSettings":
        """The experts of a distillation run: ``config.model`` trained with the config's expert
        settings (``num_experts``, ``expert_epochs_train``, ``expert_lr``, ``expert_momentum``,
        ``expert_batch``), DSA-augmented when ``config.dsa``.

        Args:
            num_experts: overrides ``config.experts.num`` (a coreset's feature network needs one).
        """
        experts, augment = config.experts, config.augment
        return cls(model=config.model, num_experts=num_experts or experts.num, epochs=experts.epochs, lr=experts.lr,
                   momentum=experts.momentum, batch_size=experts.batch,
                   augment=f"dsa:{augment.strategy}" if augment.dsa else "none")

    def augmenter(self) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
        """The batch augmentation ``augment(x, generator)`` of :func:`train_model`, or None."""
        if self.augment == "none":
            return None
        from beamsim.distill.data.augment import DSA

        return DSA(strategy=self.augment[4:])


@dataclass(frozen=True)
class ExpertProgress:
    """One progress report of :func:`train_experts`.

    Attributes:
        expert: 0-based index of the expert.
        kind: ``loaded`` (from the cache), ``epoch`` (one training epoch done) or ``trained``
            (the expert is trained and cached).
        epoch: epochs done (``epochs`` for ``loaded`` and ``trained``).
        epochs: epochs in all.
        seconds: wall time spent on this expert so far (loading or training).
        loss: the epoch's mean training loss (``epoch`` only, else None).
    """

    expert: int
    kind: Literal["loaded", "epoch", "trained"]
    epoch: int
    epochs: int
    seconds: float
    loss: float | None = None


def expert_cache_key(data_key: str, settings: ExpertSettings, seed: int, index: int,
                     input_shape: tuple[int, ...], num_classes: int) -> str:
    """Hex sha256 naming one expert's cache file; changes with anything that changes the expert.

    ``num_experts`` and ``epochs`` are left out: expert ``i`` is the same network whatever the
    number of its siblings, and at a constant learning rate a shorter run is a prefix of a
    longer one, so a cached trajectory serves any request for as many epochs or fewer.

    >>> s = ExpertSettings()
    >>> expert_cache_key("d", s, 0, 0, (1, 8, 8), 64) == expert_cache_key("d", s, 0, 1, (1, 8, 8), 64)
    False
    """
    recipe = {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("num_experts", "epochs")}
    if recipe["augment"] == "none":  # keys of unaugmented experts are those of before the field existed
        del recipe["augment"]
    payload = {"version": CACHE_VERSION, "data_key": str(data_key), "settings": recipe,
               "seed": int(seed), "index": int(index), "input_shape": [int(s) for s in input_shape],
               "num_classes": int(num_classes)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    """Where expert trajectories are cached when no folder is given: ``~/.cache/beamsim/experts``."""
    return Path.home() / ".cache" / "beamsim" / "experts"


def _load_cached(path: Path, key: str, shape: tuple[int, int]) -> torch.Tensor | None:
    """The first ``shape[0]`` rows of the trajectory cached at ``path``, or None if it is
    missing, unreadable, mismatched or too short."""
    if not path.is_file():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        trajectory = record["trajectory"]
        ok = (record.get("key") == key and isinstance(trajectory, torch.Tensor) and trajectory.ndim == 2
              and trajectory.shape[1] == shape[1] and trajectory.dtype == torch.float32
              and bool(torch.isfinite(trajectory).all()))
    except Exception as exc:  # any unreadable file (truncated, not a zip, not a dict) is retrained
        _log.warning("expert cache %s is unreadable (%s); retraining it", path, exc)
        return None
    if not ok:
        _log.warning("expert cache %s does not match the requested expert; retraining it", path)
        return None
    if trajectory.shape[0] < shape[0]:
        _log.info("expert cache %s holds %d epochs, %d are asked for; retraining it", path,
                  trajectory.shape[0] - 1, shape[0] - 1)
        return None
    return trajectory[: shape[0]].clone() if trajectory.shape[0] > shape[0] else trajectory


def _build(settings: ExpertSettings, x: torch.Tensor, num_classes: int, generator: torch.Generator) -> nn.Module:
    """A fresh network initialised from ``generator``; the global RNG state is left as it was."""
    with torch.random.fork_rng(devices=[]):  # module constructors draw from the global RNG
        return get_model(settings.model, x.shape[1], num_classes, tuple(x.shape[2:]), generator=generator)


def _train_one(x: torch.Tensor, y: torch.Tensor, num_classes: int, settings: ExpertSettings, seed: int, index: int,
               device: torch.device, on_epoch: Callable[[int, float], None] | None) -> torch.Tensor:
    """Train one expert from scratch: [epochs + 1, P] float32 on the CPU."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "expert", index))
    model = _build(settings, x, num_classes, generator).to(device)
    snapshots = [flatten_params(model).cpu()]

    def record(epoch: int, loss: float) -> None:
        snapshots.append(flatten_params(model).cpu())
        if on_epoch is not None:
            on_epoch(epoch, loss)

    train_model(model, x, y, epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                weight_decay=settings.weight_decay, label_smoothing=settings.label_smoothing, optimizer="sgd",
                momentum=settings.momentum, schedule="constant", generator=generator, device=device,
                augment=settings.augmenter(), on_epoch=record)
    return torch.stack(snapshots).to(torch.float32)


def train_experts(x: torch.Tensor, y: torch.Tensor, num_classes: int, settings: ExpertSettings, *,
                  cache_dir: str | Path, data_key: str, device: str | torch.device | None = None, seed: int = 0,
                  progress: Callable[[ExpertProgress], None] | None = None) -> list[torch.Tensor]:
    """Trajectories of ``settings.num_experts`` experts, loaded from ``cache_dir`` or trained.

    Expert ``i`` starts from ``reset_parameters`` with a generator seeded by
    ``derive_seed(seed, "expert", i)``, which also draws its data order, so the same inputs
    give the same bytes. The global RNG is not used.

    Args:
        x: [N, C, H, W] float32 real training inputs.
        y: [N] int64 labels in [0, num_classes).
        num_classes: logits of the model.
        settings: see :class:`ExpertSettings`.
        cache_dir: folder of the cache files ``expert-<sha256>.pt`` (created if missing).
        data_key: identifies ``(x, y)`` exactly, e.g. the data file's sha256 plus split and
            encoding; it is part of the cache key, so a stale key means stale experts.
        device: where to train (``None``: the config's device); results are on the CPU.
        seed: base seed of all experts.
        progress: called with an :class:`ExpertProgress` after every epoch and every expert.

    Returns:
        ``num_experts`` tensors [epochs + 1, P] float32 on the CPU; row 0 is the
        initialisation, row e the parameters after epoch e.

    Raises:
        ValueError: bad shapes, an unknown model, or training that diverged (lower ``lr``).
    """
    if x.ndim != 4 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be [N, C, H, W] and y [N], got {list(x.shape)} and {list(y.shape)}")
    if not isinstance(settings, ExpertSettings):
        raise TypeError(f"settings must be an ExpertSettings, not {type(settings).__name__}")
    device = resolve_device(device)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    num_params = sum(p.numel() for p in _build(settings, x, num_classes, torch.Generator()).parameters())
    shape = (settings.epochs + 1, num_params)
    trajectories: list[torch.Tensor] = []
    loaded = trained = 0
    load_seconds = train_seconds = 0.0
    for index in range(settings.num_experts):
        key = expert_cache_key(data_key, settings, seed, index, tuple(x.shape[1:]), num_classes)
        path = cache_dir / f"expert-{key}.pt"
        began = time.perf_counter()
        trajectory = _load_cached(path, key, shape)
        if trajectory is not None:
            seconds = time.perf_counter() - began
            loaded, load_seconds = loaded + 1, load_seconds + seconds
            if progress is not None:
                progress(ExpertProgress(index, "loaded", settings.epochs, settings.epochs, seconds))
            trajectories.append(trajectory)
            continue

        def on_epoch(epoch: int, loss: float, index: int = index, began: float = began) -> None:
            if progress is not None:
                progress(ExpertProgress(index, "epoch", epoch + 1, settings.epochs, time.perf_counter() - began, loss))

        trajectory = _train_one(x, y, num_classes, settings, seed, index, device, on_epoch)
        seconds = time.perf_counter() - began
        with atomic_path(path) as tmp:
            torch.save({"key": key, "trajectory": trajectory, "settings": dataclasses.asdict(settings),
                        "data_key": str(data_key), "seed": int(seed), "index": index, "train_seconds": seconds}, tmp)
        trained, train_seconds = trained + 1, train_seconds + seconds
        if progress is not None:
            progress(ExpertProgress(index, "trained", settings.epochs, settings.epochs, seconds))
        trajectories.append(trajectory)
    _log.info("experts: %d loaded from %s in %.2f s, %d trained in %.1f s", loaded, cache_dir, load_seconds,
              trained, train_seconds)
    return trajectories


@torch.no_grad()
def trajectory_accuracy(model: nn.Module, trajectory: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                        batch_size: int = 4096, device: str | torch.device | None = None) -> torch.Tensor:
    """Top-1 accuracy of every row of an expert trajectory on ``(x, y)``.

    Args:
        model: the expert's architecture (only its structure is used).
        trajectory: [T, P] float32 flat parameters, e.g. from :func:`train_experts`.
        x: [N, C, H, W] float32 inputs (e.g. the test split); y: [N] int64 labels.

    Returns:
        [T] float32 fractions in [0, 1] on the CPU.
    """
    device = resolve_device(device)
    model = model.to(device).eval()
    accuracy = torch.zeros(trajectory.shape[0])
    for t, flat in enumerate(trajectory):
        flat = flat.to(device)
        correct = 0
        for i in range(0, x.shape[0], batch_size):
            logits = functional_forward(model, flat, x[i:i + batch_size].to(device, torch.float32))
            correct += int((logits.argmax(1).cpu() == y[i:i + batch_size]).sum())
        accuracy[t] = correct / max(x.shape[0], 1)
    return accuracy

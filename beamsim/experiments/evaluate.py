"""Evaluation: train fresh networks on a training set, test them on a real test split.

This is the yardstick every number of the project is measured with.

Protocol (fixed; every value is in :class:`Protocol` and printed with the results):

- a fresh network per run, initialised from a seeded generator
  (:func:`beamsim.models.reset_parameters`); run ``r`` of seed ``s`` draws its weights and
  its batch order from ``derive_seed(s, "evaluate", r, ...)``, so the same seed gives the
  same numbers;
- AdamW, lr 1e-3, weight decay 1e-4, cross-entropy with label smoothing 0.1, batch 256,
  cosine decay of the lr to 0 over all steps (per step, no warm-up); no augmentation for beam
  maps, differentiable siamese augmentation (DSA, one op group per batch) for images;
- bfloat16 autocast for the training forward and backward passes (weights, optimizer state
  and loss stay float32; test logits are computed in float32). On the 2-core development
  CPU (AVX512-BF16) this trained beamcnn about 3x faster with the same accuracy as float32
  (umi, 32 epochs, seed 0: 83.1 % vs 83.2 % top-1); ``precision="fp32"`` turns it off
  (use it on CPUs without native bfloat16, where autocast is slower);
- epochs: given, or by :func:`default_epochs` from the training-set size;
- random-mask training files get a new random mask for every sample at every epoch
  (``BeamDataset.redrawn_inputs``); test masks are the stored ones;
- the reported numbers are those of the network at the end of training, on the test split:
  never the best epoch or checkpoint;
- mean and sample standard deviation (ddof 1; 0 for a single run) over ``runs`` seeds.

What depends on the modality comes from the test set's task (:mod:`beamsim.experiments.tasks`):
the KPIs (beam maps: :mod:`beamsim.experiments.metrics`, against the full, unmasked RSRP of
each test sample; images: top-1, top-5 and macro F1), the trivial reference reported beside
them (beam maps: "strongest observed beam"; images: none), the default network and the
augmentation. Reading and cross-checking the training and test sets is
:mod:`beamsim.experiments.loaders`; the training runs are :mod:`beamsim.experiments.protocol`;
the result is :class:`~beamsim.experiments.result.EvaluationResult`.

Beam maps are encoded with :data:`beamsim.dataset.DEFAULT_ENCODING` unless told otherwise;
a distilled file is evaluated with the encoding it records.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

from beamsim.config import resolve_device
from beamsim.dataset import Encoding
from beamsim.experiments.loaders import (
    DISTILLED_FORMAT, TestSet, TrainingSet, check_compatible, image_test_set, load_test_set, load_training_set,
    prepare,
)
from beamsim.experiments.protocol import Precision, Protocol, Runs, default_epochs, mean_std, train_runs
from beamsim.experiments.result import EvaluationResult
from beamsim.experiments.tasks import (
    BEAM, IMAGE, IMAGE_KPI_NAMES, KPI_NAMES, AugmentName, BeamTask, ImageTask, Reference, Task,
)
from beamsim.models import list_models
from beamsim.models.training import OptimizerName

__all__ = [
    "evaluate", "prepare", "EvaluationResult", "Protocol", "TrainingSet", "TestSet", "load_training_set",
    "load_test_set", "image_test_set", "check_compatible", "default_epochs", "mean_std", "train_runs", "Runs",
    "DISTILLED_FORMAT", "KPI_NAMES", "IMAGE_KPI_NAMES", "Precision", "AugmentName", "Task", "BeamTask",
    "ImageTask", "Reference", "BEAM", "IMAGE",
]

_AUGMENT_NAMES = ("auto", "dsa", "none")


def evaluate(train: str | Path | tuple[torch.Tensor, torch.Tensor] | TrainingSet,
             test: str | Path | TestSet | list[TestSet] | None = None, model: str | None = None, runs: int = 5,
             epochs: int | None = None, *,
             device: str | torch.device | None = None, seed: int = 0, encoding: Encoding | None = None,
             batch_size: int = 256, optimizer: OptimizerName = "adamw", lr: float = 1e-3,
             weight_decay: float = 1e-4, label_smoothing: float = 0.1,
             schedule: Literal["cosine", "constant"] = "cosine", precision: Precision = "bf16",
             augment: AugmentName = "auto",
             on_epoch: Callable[[int, int], None] | None = None) -> EvaluationResult:
    """Train ``runs`` fresh networks on ``train`` and test each on a real test split.

    Args:
        train: a data-set or distilled file, tensors ``(x [N, C, 8, 8] float32, y [N] int64)``,
            or a :class:`TrainingSet` from :func:`load_training_set`.
        test: a data-set file whose test split is the test set (or a :class:`TestSet`, e.g.
            :func:`image_test_set`). Default: the training file itself (data-set file) or its
            source data set (distilled file: for an image set, the test split of the data
            set it records); required with tensors. A list of H test sets (one per head, the same
            inputs) with a ``train`` :class:`TrainingSet` whose labels are [N, H] trains one
            network with H heads (:func:`~beamsim.experiments.protocol.train_runs`) and returns
            one result per head.
        model: a name from :func:`beamsim.models.list_models`; None: the task's default
            (``beamcnn`` for beam maps; for images the network the set was distilled with,
            else ConvNetD3, ConvNetD5 above 64 x 64).
        runs: independent runs (seeds), >= 1.
        epochs: training epochs; None: :func:`default_epochs` of the training-set size.
        device: ``auto`` | ``cpu`` | ``cuda`` (None: the config's).
        seed: base seed; run ``r`` uses seeds derived from ``(seed, r)``.
        encoding: input encoding (default: the one a distilled file records, else
            :data:`~beamsim.dataset.DEFAULT_ENCODING`; see :func:`load_training_set`); the test
            split is encoded the same way (beam maps only).
        batch_size: the protocol's batch size (see the module docstring).
        optimizer: the protocol's optimizer, ``adamw`` or ``sgd`` (see the module docstring).
        lr: the protocol's learning rate (see the module docstring).
        weight_decay: the protocol's weight decay (see the module docstring).
        label_smoothing: the protocol's label smoothing (see the module docstring).
        schedule: the protocol's learning-rate schedule, ``cosine`` or ``constant`` (see the
            module docstring).
        precision: the protocol's training precision, ``bf16`` (bfloat16 autocast) or ``fp32``
            (see the module docstring).
        augment: ``auto`` (the task's choice: DSA for images, none for beam maps), ``dsa``
            (images only) or ``none``.
        on_epoch: progress callback ``on_epoch(run, epoch)``.

    Returns:
        an :class:`EvaluationResult` (the task's KPIs: beam KPIs, or top-1/top-5/macro F1
        for images); a list of them, one per head, for a list of test sets.

    Raises:
        ValueError: runs < 1, unknown model, bad protocol values.
        DataFileError: missing or invalid files, a test set with other classes or input shape.
    """
    if int(runs) < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if model is not None and model not in list_models():
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if augment not in _AUGMENT_NAMES:
        raise ValueError(f"augment must be 'auto', 'dsa' or 'none', not {augment!r}")
    dev = resolve_device(device)
    heads = None if test is None or isinstance(test, (str, Path, TestSet)) else list(test)
    if heads is None:
        train_set, test_set = prepare(train, test, encoding, device=dev)
    elif not isinstance(train, TrainingSet):
        raise ValueError("test sets per head need a TrainingSet with labels [N, heads]")
    else:
        train_set, test_set = train, heads[0]
    task = test_set.task
    model = model if model is not None else task.default_model(train_set, test_set)
    protocol = Protocol(epochs=int(epochs) if epochs is not None else default_epochs(len(train_set)),
                        batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
                        label_smoothing=label_smoothing, schedule=schedule, precision=precision,
                        augment=task.augmentation(augment, train_set, test_set))
    done = train_runs(train_set, test_set if heads is None else heads, protocol, model, int(runs), seed=seed,
                      device=dev, augment=task.augmenter(protocol.augment), on_epoch=on_epoch)
    if heads is None:
        return _result(train_set, test_set, done, model, int(runs), int(seed), dev, protocol)
    return [_result(train_set, t, d, model, int(runs), int(seed), dev, protocol) for t, d in zip(heads, done)]


def _result(train_set: TrainingSet, test_set: TestSet, done: Runs, model: str, runs: int, seed: int,
            dev: torch.device, protocol: Protocol) -> EvaluationResult:
    task = test_set.task
    reference = task.reference(test_set)
    return EvaluationResult(
        model=model, runs=runs, seed=seed, device=str(dev), protocol=protocol,
        train=train_set.source, train_kind=train_set.kind, test=str(test_set.path), encoding=test_set.encoding,
        train_samples=len(train_set), test_samples=len(test_set), input_shape=tuple(train_set.x.shape[1:]),
        num_classes=test_set.num_classes, per_run=done.per_run,
        reference=reference.kpis if reference is not None else {},
        seconds_per_run=done.seconds, threads=torch.get_num_threads(), predictions=done.predictions,
        labels=test_set.y, rsrp_loss=done.sample_loss,
        reference_rsrp_loss=reference.sample_loss if reference is not None else None,
        modality=task.name, reference_name=reference.name if reference is not None else None,
    )

"""Several training sets tested on one real test split, with what each costs to store.

The card's question is "how much of the full data's accuracy do these few bits keep?": the
full training split, a distilled file and a coreset of the same size are trained on with the
same protocol (:func:`beamsim.experiments.evaluate.evaluate`) and tested on the same split. Each
row adds the set's stored size:

- a distilled (or coreset) file: its size on disk, and the full training split at 32 bits per
  element divided by it (``compression_ratio_file`` of :func:`beamsim.distill.describe`);
- a data-set file: its training split's inputs as float32 (the size every ratio is against),
  so its ratio is 1.

Every file is read and checked before the first network trains, and all of them must test on
the same data set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from beamsim.distill.bits import FLOAT_BITS
from beamsim.dataset import Encoding
from beamsim.errors import DataFileError
from beamsim.experiments.evaluate import evaluate
from beamsim.experiments.loaders import TestSet, TrainingSet, prepare
from beamsim.experiments.protocol import Precision, default_epochs
from beamsim.experiments.result import EvaluationResult
from beamsim.experiments.tasks import AugmentName

__all__ = ["StoredSize", "Compared", "Prepared", "stored_size", "prepare_sets", "compare"]


@dataclass(frozen=True)
class StoredSize:
    """What a training set costs to store.

    Attributes:
        bytes: a file's size on disk; a data-set file's training inputs at 32 bits per element.
        ratio: the full training split at 32 bits per element over ``bytes`` (None when a
            distilled file does not record the size of the set it came from).
    """

    bytes: int
    ratio: float | None


@dataclass(frozen=True)
class Compared:
    """One row: the training set's file, its evaluation and its stored size."""

    path: Path
    result: EvaluationResult
    size: StoredSize

    def to_dict(self) -> dict:
        """The evaluation's JSON document with ``stored_bytes`` and ``compression_ratio``."""
        return {**self.result.to_dict(), "stored_bytes": self.size.bytes, "compression_ratio": self.size.ratio}


def stored_size(train_set: TrainingSet) -> StoredSize:
    """The stored size of a training set read from a file (see the module docstring)."""
    if train_set.kind == "distilled":
        from beamsim.distill import describe

        info = describe(train_set.source)
        return StoredSize(int(info["file_bytes"]), info["compression_ratio_file"])
    if train_set.kind == "dataset":
        elements = math.prod(train_set.x.shape[1:])
        return StoredSize(len(train_set) * elements * FLOAT_BITS // 8, 1.0)
    raise ValueError("stored_size needs a training set read from a file")


@dataclass(frozen=True)
class Prepared:
    """One training set read and checked, with its test split and the epochs it will train."""

    path: Path
    train: TrainingSet
    test: TestSet
    epochs: int


def prepare_sets(paths: Sequence[str | Path], test: str | Path | None = None, encoding: Encoding | None = None, *,
                 epochs: int | None = None, device: str | torch.device | None = None) -> list[Prepared]:
    """Read and check every training set before any training (``encoding`` as in
    :func:`~beamsim.experiments.evaluate.evaluate`; ``epochs`` None: each set's own
    :func:`default_epochs`).

    Raises:
        ValueError: fewer than two paths.
        DataFileError: a file that cannot be trained on, or sets whose default test data sets
            differ (give ``test``).
    """
    if len(paths) < 2:
        raise ValueError("a comparison needs at least two training sets")
    prepared = []
    for path in paths:
        train_set, test_set = prepare(path, test, encoding, device=device)
        if train_set.x.ndim != 4:
            raise DataFileError(f"{path}: only static training sets (data-set or distilled files) can be compared")
        prepared.append(Prepared(Path(path), train_set, test_set,
                                 int(epochs) if epochs is not None else default_epochs(len(train_set))))
    tested = {str(Path(p.test.path).resolve()) for p in prepared}
    if len(tested) > 1:
        raise DataFileError(f"the training sets test on different data sets ({', '.join(sorted(tested))}); give --test")
    return prepared


def compare(prepared: Sequence[Prepared], *, model: str | None = None, runs: int = 1,
            device: str | torch.device | None = None, seed: int = 0, precision: Precision = "bf16",
            augment: AugmentName = "auto", on_epoch: Callable[[int, int], None] | None = None) -> list[Compared]:
    """Evaluate every prepared set (the protocol of :func:`~beamsim.experiments.evaluate.evaluate`,
    the same seed for each) and measure what it costs to store."""
    return [Compared(p.path, evaluate(p.train, p.test, model=model, runs=runs, epochs=p.epochs, device=device,
                                      seed=seed, precision=precision, augment=augment, on_epoch=on_epoch), stored_size(p.train))
            for p in prepared]

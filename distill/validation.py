"""Validation-based selection: score the synthetic set on a held-out part of the training split.

:func:`stratified_holdout` sets aside ``floor(fraction * n_c)`` samples of every class (never
the test split). Every ``val_every`` iterations :class:`Validator` trains a small model on the
current Q(S) (the quantizer in eval mode) and scores its top-1 accuracy on the held-out samples;
the distiller keeps the set that scores best, and with a patience it stops once the scores have
plateaued (:func:`plateaued`). Each validation draws from its own generator,
``derive_seed(seed, "validate", iteration)``, so it never shifts the run's other draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from beamsim.config import derive_seed
from beamsim.distill.networks import Networks
from beamsim.models.training import predict, train_model

if TYPE_CHECKING:
    from beamsim.distill.data.augment import DSA

__all__ = ["stratified_holdout", "plateaued", "Validator"]


def stratified_holdout(y: torch.Tensor, num_classes: int, fraction: float,
                       generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (kept, held out) [n] int64, each sorted: ``floor(fraction * n_c)`` samples of
    every class ``c`` held out, picked by one ``randperm`` per class from ``generator``.

    >>> keep, held = stratified_holdout(torch.tensor([0, 0, 0, 0, 1, 1]), 2, 0.5, torch.Generator().manual_seed(0))
    >>> len(keep), len(held)
    (3, 3)
    """
    keep, held = [], []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).view(-1)
        idx = idx[torch.randperm(idx.numel(), generator=generator)]
        k = int(math.floor(fraction * idx.numel()))
        held.append(idx[:k])
        keep.append(idx[k:])
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


def plateaued(scores: Sequence[float], patience: int) -> bool:
    """True when the last ``patience`` scores have not beaten the best before them (a tie is no
    gain, as in the kept-set rule); always False with ``patience`` 0 or too few scores.

    A pure function of the validation history, so a resumed run stops where the first one did.

    >>> plateaued([0.70, 0.75, 0.74, 0.75], 2)
    True
    >>> plateaued([0.70, 0.75, 0.74, 0.76], 2)
    False
    >>> plateaued([0.70, 0.69], 2), plateaued([0.70, 0.69], 0)
    (False, False)
    """
    if patience <= 0 or len(scores) <= patience:
        return False
    return max(scores[-patience:]) <= max(scores[:-patience])


class Validator:
    """Scores synthetic sets on held-out real samples.

    Args:
        x_val: [V, C, H, W] float32 held-out inputs; y_val: [V] int64 labels (V may be 0: off).
        networks: the run's architecture (a fresh network per validation).
        epochs: training epochs of the quick model.
        seed: the run's seed (each validation derives its generator from it and the iteration).
        dsa: augmentation of the quick model's training batches (images), or None.
        device: where the model trains.
    """

    def __init__(self, x_val: torch.Tensor, y_val: torch.Tensor, networks: Networks, *, epochs: int, seed: int,
                 dsa: "DSA | None", device: torch.device) -> None:
        self.x_val, self.y_val = x_val, y_val
        self.networks, self.epochs, self.seed, self.dsa, self.device = networks, epochs, seed, dsa, device

    @property
    def enabled(self) -> bool:
        """True when there are held-out samples."""
        return len(self.y_val) > 0

    def score(self, x_train: torch.Tensor, y_train: torch.Tensor, iteration: int,
              targets: torch.Tensor | None = None) -> float:
        """Top-1 accuracy in [0, 1] on the held-out samples of a model trained on
        ``(x_train [M, C, H, W], y_train [M])``, e.g. :func:`beamsim.distill.run_param.decoded_view` of the set
        (with soft labels, ``targets`` [M, C]: the stored ones)."""
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "validate", iteration))
        model = self.networks.fresh(generator)
        train_model(model, x_train, y_train, epochs=self.epochs, generator=generator, device=self.device,
                    augment=self.dsa, targets=targets)
        logits = predict(model, self.x_val, device=self.device)
        return float((logits.argmax(1).to(self.y_val.device) == self.y_val).float().mean())

"""Soft labels in the loop: the learnable logits, their optimiser, what the objective and the file see.

A run with ``[labels] soft = false`` has none: the labels are the hard classes of the rows,
stored for free as the per-class counts. With soft labels (trajectory matching only), every
synthetic sample gets a logit vector initialised from an expert's logits on the initial set
(the last epoch of the first expert, as DATM initialises them); the student's target is the
stored code of their softmax (:func:`beamsim.distill.labels.stored_targets`), and SGD with the
samples' momentum moves them with the samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from beamsim.distill.labels import SoftLabels, check_top_k, stored_targets
from beamsim.distill.params import functional_forward

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.distill.objectives import Objective

__all__ = ["LearnedLabels", "loop_labels", "label_optimizer"]


class LearnedLabels(nn.Module):
    """The logits of every synthetic sample's soft label.

    Attributes:
        logits: [N, C] float32 learnable logits.
        top_k, bits: how the labels are stored (:mod:`beamsim.distill.labels`).
    """

    def __init__(self, logits: torch.Tensor, top_k: int, bits: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits.detach().clone().float())
        self.top_k, self.bits = int(top_k), int(bits)

    def targets(self) -> torch.Tensor:
        """[N, C] the student's targets: the stored code, the rounding passed straight through."""
        return stored_targets(self.logits, self.top_k, self.bits)

    @torch.no_grad()
    def stored(self) -> SoftLabels:
        """What the file stores (its :meth:`~SoftLabels.targets` are what :meth:`targets` gives)."""
        return SoftLabels.of(torch.softmax(self.logits, dim=1), self.top_k, self.bits)


@torch.no_grad()
def loop_labels(config: "DistillConfig", objective: "Objective | None", x_syn: torch.Tensor) -> LearnedLabels | None:
    """The run's soft labels initialised from the expert's logits on ``x_syn`` (None: hard labels).

    Raises:
        ValueError: soft labels without trajectory matching's experts, or more classes kept
            per sample than the data has.
    """
    labels = config.labels
    if not labels.soft:
        return None
    experts = getattr(objective, "experts", None)
    if not experts:
        raise ValueError("soft labels are initialised from the experts of trajectory matching: use --objective tm")
    student = objective.student  # type: ignore[union-attr]
    logits = functional_forward(student, experts[0][-1].to(x_syn.device), x_syn)
    check_top_k(labels.top_k, logits.shape[1])
    return LearnedLabels(logits, labels.top_k, labels.bits).to(x_syn.device)


def label_optimizer(labels: LearnedLabels | None, config: "DistillConfig") -> torch.optim.SGD | None:
    """SGD on the logits (``[labels] lr``, the samples' momentum); None without soft labels."""
    if labels is None:
        return None
    return torch.optim.SGD([labels.logits], lr=config.labels.lr, momentum=config.step.momentum_syn)

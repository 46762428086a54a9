"""``dm``: distribution matching as a registered objective (loss: :mod:`.distribution`).

Every iteration draws a fresh, randomly initialised network (frozen; its features are the
embedding), ``real_per_class`` real samples of every class, and, for images, one siamese DSA
draw; the loss is :func:`~beamsim.distill.objectives.distribution.distribution_matching_loss`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from beamsim.distill.objectives.base import Objective, ObjectiveContext
from beamsim.distill.objectives.distribution import distribution_matching_loss, sample_per_class
from beamsim.distill.objectives.registry import register_objective
from beamsim.distill.params import embed

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["DistributionMatching"]


@register_objective("dm")
class DistributionMatching(Objective):
    """Distribution matching (Zhao & Bilen 2023).

    Attributes:
        real_per_class: real samples per class drawn each iteration (``config.matching.real_per_class``).
    """

    def __init__(self, config: "DistillConfig", context: ObjectiveContext) -> None:
        super().__init__(config, context)
        self.real_per_class = int(config.matching.real_per_class)

    def loss(self, iteration: int, x_q: torch.Tensor, y_syn: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        ctx = self.context
        net = ctx.networks.fresh(generator)
        for p in net.parameters():
            p.requires_grad_(False)
        real_by_class = sample_per_class(ctx.x, ctx.y, ctx.num_classes, self.real_per_class, generator)
        syn_by_class = [x_q[y_syn == c] for c in range(ctx.num_classes)]
        loss = distribution_matching_loss(lambda t: embed(net, t), real_by_class, syn_by_class,
                                          augment=ctx.pair_augment(generator))
        return loss, {}

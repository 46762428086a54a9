"""``dc``: gradient matching as a registered objective (loss: :mod:`.gradient`).

Every iteration draws a fresh network; for each of ``dc_inner_steps`` inner steps it draws
``real_per_class`` real samples of every class (and, for images, one siamese DSA draw) and adds
:func:`~beamsim.distill.objectives.gradient.gradient_matching_loss`; between inner steps the
network takes one SGD step on the (detached) synthetic set. The sum is the iteration's loss.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from beamsim.distill.objectives.base import Objective, ObjectiveContext
from beamsim.distill.objectives.distribution import sample_per_class
from beamsim.distill.objectives.gradient import gradient_matching_loss
from beamsim.distill.objectives.registry import register_objective

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["GradientMatching"]


@register_objective("dc")
class GradientMatching(Objective):
    """Gradient matching (DC, Zhao et al. 2021).

    Attributes:
        real_per_class: real samples per class per inner step (``config.matching.real_per_class``).
        inner_steps: matching steps per iteration (``config.matching.dc_inner_steps``).
        net_lr: SGD learning rate of the network between inner steps (0.01, as DC).
    """

    net_lr = 0.01

    def __init__(self, config: "DistillConfig", context: ObjectiveContext) -> None:
        super().__init__(config, context)
        self.real_per_class = int(config.matching.real_per_class)
        self.inner_steps = int(config.matching.dc_inner_steps)

    def loss(self, iteration: int, x_q: torch.Tensor, y_syn: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        ctx = self.context
        net = ctx.networks.fresh(generator)
        total = x_q.new_zeros(())
        for step in range(self.inner_steps):
            groups = sample_per_class(ctx.x, ctx.y, ctx.num_classes, self.real_per_class, generator)
            real_x = torch.cat(groups)
            real_y = torch.repeat_interleave(torch.arange(ctx.num_classes, device=real_x.device),
                                             torch.tensor([len(g) for g in groups], device=real_x.device))
            total = total + gradient_matching_loss(net, real_x, real_y, x_q, y_syn, ctx.num_classes,
                                                   augment=ctx.pair_augment(generator))
            if step + 1 < self.inner_steps:
                net = self._trained_copy(net, x_q.detach(), y_syn)
        return total, {}

    def _trained_copy(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
        """``net`` after one SGD step on ``(x, y)``, as a copy: the loss so far keeps the graph
        of the parameters it matched, which an in-place step would invalidate."""
        net = copy.deepcopy(net)
        opt = torch.optim.SGD(net.parameters(), lr=self.net_lr)
        F.cross_entropy(net(x), y).backward()
        opt.step()
        return net

"""``tm``: trajectory matching as a registered objective (loss: :mod:`.trajectory`).

The objective owns what only trajectory matching needs: the expert trajectories (trained or
loaded from the cache when the objective is built), the student architecture, the learnable
student step size ``syn_lr`` and its optimiser (SGD, momentum 0.5, learning rate ``lr_lr``;
none when ``lr_lr = 0``). Every iteration draws an expert and a start epoch from DATM's
widening window (:meth:`TrajectoryMatching.start_window`), then the student's minibatches
(and, for images, a fresh DSA draw per student step) inside the loss.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from beamsim.distill.objectives.base import Objective, ObjectiveContext
from beamsim.distill.objectives.registry import register_objective
from beamsim.distill.objectives.trajectory import trajectory_matching_loss

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["TrajectoryMatching"]

#: The smallest student step size (the step size is clamped after every update).
MIN_SYN_LR = 1e-6


@register_objective("tm")
class TrajectoryMatching(Objective):
    """MTT with DATM's widening start window.

    Attributes:
        experts: the expert trajectories, [epochs + 1, P] float32 each, on the CPU.
        student: the student architecture on the context's device (only its structure is used).
        syn_lr: 0-d float32 learnable student step size (starts at ``config.trajectory.syn_lr_init``).
        opt_lr: SGD on ``syn_lr`` (``config.trajectory.lr_lr``, momentum 0.5), None when ``lr_lr = 0``.
        iterations, min_start_epoch, max_start_epoch, initial_max_start_epoch, expert_epochs,
            syn_steps, batch_syn: the config's settings of the same names.

    Checkpoint entries: ``syn_lr`` (always) and ``opt_lr`` (with an optimiser).
    """

    def __init__(self, config: "DistillConfig", context: ObjectiveContext) -> None:
        super().__init__(config, context)
        self.iterations = int(config.iterations)
        tm = config.trajectory
        self.min_start_epoch = int(tm.min_start_epoch)
        self.max_start_epoch = int(tm.max_start_epoch)
        self.initial_max_start_epoch = int(tm.initial_max_start_epoch)
        self.expert_epochs = int(tm.expert_epochs)
        self.syn_steps = int(tm.syn_steps)
        self.batch_syn = int(tm.batch_syn)
        self.syn_lr = torch.tensor(tm.syn_lr_init, device=context.device, requires_grad=True)
        self.opt_lr = torch.optim.SGD([self.syn_lr], lr=tm.lr_lr, momentum=0.5) if tm.lr_lr > 0 else None
        self.experts = context.experts()
        self.student = context.networks.build()

    def start_window(self, iteration: int) -> tuple[int, int]:
        """The start epochs drawn from at ``iteration``: ``[min_start_epoch, upper]``, with
        ``upper`` growing linearly from ``initial_max_start_epoch`` (first iteration) to
        ``max_start_epoch`` (last), rounded down."""
        span = max(1, self.iterations - 1)
        upper = self.initial_max_start_epoch + (self.max_start_epoch - self.initial_max_start_epoch) * iteration / span
        return self.min_start_epoch, int(math.floor(upper))

    def loss(self, iteration: int, x_q: torch.Tensor, y_syn: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        lo, hi = self.start_window(iteration)
        e = int(torch.randint(len(self.experts), (1,), generator=generator))
        s = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        trajectory = self.experts[e]
        start = trajectory[s].to(self.context.device)
        target = trajectory[s + self.expert_epochs].to(self.context.device)
        dsa = self.context.dsa
        loss, diag = trajectory_matching_loss(self.student, x_q, y_syn, start, target, self.syn_lr,
                                              syn_steps=self.syn_steps, batch_size=self.batch_syn,
                                              generator=generator,
                                              augment=(lambda xb: dsa(xb, generator)) if dsa is not None else None)
        info: dict[str, float] = {"expert": e, "start_epoch": s}
        info.update({k: float(v) for k, v in diag.items() if isinstance(v, (int, float, torch.Tensor))})
        return loss, info

    def zero_grad(self) -> None:
        if self.opt_lr is not None:
            self.opt_lr.zero_grad(set_to_none=True)

    def step(self) -> None:
        if self.opt_lr is not None and self.syn_lr.grad is not None:
            self.opt_lr.step()
            with torch.no_grad():
                self.syn_lr.clamp_(min=MIN_SYN_LR)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"syn_lr": self.syn_lr.detach()}
        if self.opt_lr is not None:
            state["opt_lr"] = self.opt_lr.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> "TrajectoryMatching":
        with torch.no_grad():
            self.syn_lr.copy_(state["syn_lr"])
        if self.opt_lr is not None:
            self.opt_lr.load_state_dict(state["opt_lr"])
        return self

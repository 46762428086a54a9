"""The objective interface: what the distillation loop asks of a matching objective.

An objective is a class registered by name (:func:`~beamsim.distill.objectives.register_objective`).
It is built once per run from the run's settings and an :class:`ObjectiveContext` (the real
data and the means to build networks), owns its state and extra learned parameters (trajectory
matching: the experts, the student and its learnable step size), and answers, every iteration,

- :meth:`Objective.loss` with the loss of the quantized synthetic set (differentiable in it)
  and a few numbers for the log;
- :meth:`Objective.zero_grad` before and :meth:`Objective.step` after the backward pass, for
  its own parameters (the synthetic set and the quantizer thresholds are the loop's);
- :meth:`Objective.state_dict` / :meth:`Objective.load_state_dict` for the checkpoint.

The loss itself is a pure function (:mod:`~beamsim.distill.objectives.trajectory`,
:mod:`~beamsim.distill.objectives.distribution`, :mod:`~beamsim.distill.objectives.gradient`);
the class only draws what the function needs, always from the generator it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from beamsim.distill.networks import Networks

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.distill.data.augment import DSA

__all__ = ["Objective", "ObjectiveContext", "PairAugment"]

#: ``augment(x_real, y_real, x_syn, y_syn) -> (x_real', x_syn')`` (one siamese DSA draw).
PairAugment = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class ObjectiveContext:
    """What an objective sees of the run.

    Attributes:
        x: [N, C, H, W] float32 real training inputs (the validation hold-out removed), on ``device``.
        y: [N] int64 labels in ``[0, num_classes)``, on ``device``.
        num_classes: classes of the task (some may have no samples).
        networks: builds the run's architecture (:class:`~beamsim.distill.networks.Networks`).
        experts: returns the run's expert trajectories, ``num_experts`` tensors
            [epochs + 1, P] float32 on the CPU (trained, or loaded from the cache, when called).
        dsa: differentiable siamese augmentation for image runs; None for beam maps.
        device: where the real data and the networks live.
    """

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    networks: Networks
    experts: Callable[[], list[torch.Tensor]]
    dsa: "DSA | None"
    device: torch.device

    def pair_augment(self, generator: torch.Generator) -> PairAugment | None:
        """The siamese augmentation hook of the DM/DC losses, drawing from ``generator``; None without DSA."""
        dsa = self.dsa
        if dsa is None:
            return None
        return lambda xr, yr, xs, ys: dsa.siamese(xr, yr, xs, ys, generator)


class Objective:
    """Base class of a registered objective (see the module docstring for the contract).

    Args:
        config: the run's settings; a subclass reads the fields it uses in ``__init__``.
        context: the real data and the run's networks.
    """

    #: registry name, set by :func:`~beamsim.distill.objectives.register_objective`.
    name: ClassVar[str] = ""

    def __init__(self, config: "DistillConfig", context: ObjectiveContext) -> None:
        self.config = config
        self.context = context

    def loss(self, iteration: int, x_q: torch.Tensor, y_syn: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of iteration ``iteration`` (0-based).

        Args:
            x_q: [M, C, H, W] float32, the quantized synthetic set Q(S) (requires grad).
            y_syn: [M] int64 labels, grouped by class.
            generator: the run's CPU generator: every random draw of the objective comes from it.

        Returns:
            ``(loss, info)``: a 0-d float32 loss differentiable in ``x_q``, and numbers for
            the iteration's log record (plain floats or ints).
        """
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Clear the gradients of the objective's own parameters (before the backward pass)."""

    def step(self) -> None:
        """Update the objective's own parameters (after the backward pass and the synthetic step)."""

    def state_dict(self) -> dict[str, Any]:
        """The objective's state, as top-level checkpoint entries (names unique in the checkpoint)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> "Objective":
        """Restore what :meth:`state_dict` returned; returns ``self``.

        ``state`` holds every checkpoint entry the run's own state does not claim; an objective
        reads the ones it wrote and ignores the rest (checkpoints of beamsim 0.1 hold the
        trajectory-matching entries ``syn_lr`` and ``opt_lr`` for every objective).
        """
        return self

"""Distillation objectives: pure loss functions, and the registered classes the loop runs.

Losses (one module each; they hold no state and never touch the global RNG):

- :func:`trajectory_matching_loss` (MTT/DATM): an unrolled student chases an expert trajectory;
- :func:`distribution_matching_loss` (DM): per-class mean embeddings of real and synthetic data;
- :func:`gradient_matching_loss` (DC): per-class, per-layer cosine distance of gradients.

Objectives (``@register_objective("name")``, built by :func:`build_objective`): ``tm``
(:class:`TrajectoryMatching`, which owns the experts, the student and its learnable step size),
``dm`` (:class:`DistributionMatching`), ``dc`` (:class:`GradientMatching`); ``none`` means no
loop. Each draws what its loss needs from the run's generator and keeps its own state (see
:class:`Objective`).
"""

from beamsim.distill.objectives.trajectory import minibatch_indices, trajectory_matching_loss, unroll_student
from beamsim.distill.objectives.distribution import class_means, distribution_matching_loss, sample_per_class
from beamsim.distill.objectives.gradient import gradient_distance, gradient_matching_loss
from beamsim.distill.objectives.base import Objective, ObjectiveContext
from beamsim.distill.objectives.registry import (NO_OBJECTIVE, build_objective, objective_class, objective_names,
                                                 register_objective)
from beamsim.distill.objectives.tm import TrajectoryMatching
from beamsim.distill.objectives.dm import DistributionMatching
from beamsim.distill.objectives.dc import GradientMatching

__all__ = [
    "trajectory_matching_loss", "minibatch_indices", "unroll_student",
    "distribution_matching_loss", "sample_per_class", "class_means",
    "gradient_matching_loss", "gradient_distance",
    "Objective", "ObjectiveContext", "register_objective", "build_objective", "objective_class", "objective_names",
    "NO_OBJECTIVE", "TrajectoryMatching", "DistributionMatching", "GradientMatching",
]

"""Distillation objectives: pure loss functions of a synthetic set (one module each).

- :func:`trajectory_matching_loss` (MTT/DATM): an unrolled student chases an expert trajectory;
- :func:`distribution_matching_loss` (DM): per-class mean embeddings of real and synthetic data;
- :func:`gradient_matching_loss` (DC): per-class, per-layer cosine distance of gradients.

The distiller picks one by name and owns everything around it (experts, embedding networks,
optimisers); these functions hold no state and never touch the global RNG.
"""

from beamsim.distill.objectives.trajectory import minibatch_indices, trajectory_matching_loss, unroll_student
from beamsim.distill.objectives.distribution import class_means, distribution_matching_loss, sample_per_class
from beamsim.distill.objectives.gradient import gradient_distance, gradient_matching_loss

__all__ = [
    "trajectory_matching_loss", "minibatch_indices", "unroll_student",
    "distribution_matching_loss", "sample_per_class", "class_means",
    "gradient_matching_loss", "gradient_distance",
]

"""Distillation settings that make a test run take well under a second (``from tests.tiny import TINY``)."""

#: A ``--config`` file for tiny runs of every objective (2 iterations, one small expert).
TINY = """
iterations = 2
real_per_class = 4
val_fraction = 0.0
num_experts = 1
expert_epochs_train = 3
max_start_epoch = 1
initial_max_start_epoch = 0
expert_epochs = 1
syn_steps = 2
batch_syn = 16
checkpoint_every = 1
"""

"""The flat record of format 1: one key per setting, in a fixed order.

Every distilled file stores its resolved config as this record
(:meth:`beamsim.distill.config.DistillConfig.as_dict`), checkpoints fingerprint it, and the
config files of beamsim 0.1 use its keys; a flat key anywhere means the same setting as before.
The order of :data:`FLAT_KEYS` is part of every file's bytes, so new keys go at the end and into
:data:`LATER_KEYS`.
"""

from __future__ import annotations

__all__ = ["FLAT_KEYS", "LATER_KEYS"]

#: The flat key of every setting (the record of format 1 and the 0.1 config files), in the
#: record's order -> (group or None for the run-wide fields, field name).
FLAT_KEYS: dict[str, tuple[str | None, str]] = {
    "objective": (None, "objective"), "quantizer": ("quantizer", "name"), "bits": ("quantizer", "bits"),
    "granularity": ("quantizer", "granularity"), "normalize": ("quantizer", "normalize"),
    "percentile": ("quantizer", "percentile"), "spc": (None, "spc"), "init": (None, "init"),
    "replacement": (None, "replacement"), "model": (None, "model"), "iterations": (None, "iterations"),
    "keep_constant": (None, "keep_constant"), "clamp": (None, "clamp"), "lr_syn": ("step", "lr_syn"),
    "momentum_syn": ("step", "momentum_syn"), "clip_grad": ("step", "clip_grad"),
    "lr_alpha": ("quantizer", "lr_alpha"), "real_per_class": ("matching", "real_per_class"),
    "dc_inner_steps": ("matching", "dc_inner_steps"), "num_experts": ("experts", "num"),
    "expert_epochs_train": ("experts", "epochs"), "expert_lr": ("experts", "lr"),
    "expert_momentum": ("experts", "momentum"), "expert_batch": ("experts", "batch"),
    "syn_steps": ("trajectory", "syn_steps"), "expert_epochs": ("trajectory", "expert_epochs"),
    "min_start_epoch": ("trajectory", "min_start_epoch"), "max_start_epoch": ("trajectory", "max_start_epoch"),
    "initial_max_start_epoch": ("trajectory", "initial_max_start_epoch"), "batch_syn": ("trajectory", "batch_syn"),
    "syn_lr_init": ("trajectory", "syn_lr_init"), "lr_lr": ("trajectory", "lr_lr"), "val_fraction": ("validation", "fraction"),
    "val_every": ("validation", "every"), "val_epochs": ("validation", "epochs"),
    "checkpoint_every": (None, "checkpoint_every"), "graphcut_lambda": (None, "graphcut_lambda"),
    "dsa": ("augment", "dsa"), "dsa_strategy": ("augment", "strategy"),
    "param": ("param", "name"), "coefficients": ("param", "coefficients"), "colors": ("param", "colors"),
    "lr_param": ("param", "lr"), "palette_balance": ("param", "balance_weight"),
    "palette_max": ("param", "max_weight"), "palette_warmup": ("param", "warmup"),
    "allocation": (None, "allocation"), "val_patience": ("validation", "patience"),
    "soft_labels": ("labels", "soft"), "label_topk": ("labels", "top_k"), "label_bits": ("labels", "bits"),
    "lr_label": ("labels", "lr"),
}
#: Flat keys added after the first distilled-file version: recorded only when not at their default,
#: so a beam run writes the same bytes (config text, checkpoint fingerprint) as before they existed.
LATER_KEYS = ("dsa", "dsa_strategy", "param", "coefficients", "colors", "lr_param", "palette_balance",
               "palette_max", "palette_warmup", "allocation", "val_patience", "soft_labels",
               "label_topk", "label_bits", "lr_label")

"""Labelled training data as tensors: what every distiller accepts."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["as_tensors"]


def as_tensors(train: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(x [N, ...] float32, y [N] int64, num_classes)`` from a labelled data set.

    Accepts an ``(x, y)`` tuple, an object with ``inputs``/``labels`` (``beamsim.BeamDataset``)
    or ``tensors()``, or any map-style ``Dataset`` of (x, y) pairs.
    """
    num_classes = getattr(train, "num_classes", None)
    if isinstance(train, (tuple, list)) and len(train) == 2:
        x, y = train
    elif hasattr(train, "inputs") and hasattr(train, "labels"):
        x, y = train.inputs, train.labels
    elif hasattr(train, "tensors") and callable(train.tensors):
        x, y = train.tensors()
    elif hasattr(train, "__getitem__") and hasattr(train, "__len__"):
        pairs = [train[i] for i in range(len(train))]
        x = torch.stack([torch.as_tensor(p[0]) for p in pairs])
        y = torch.as_tensor([int(p[1]) for p in pairs])
    else:
        raise TypeError("train must be (x, y), a BeamDataset or a Dataset of (x, y) pairs")
    x = torch.as_tensor(x).float()
    y = torch.as_tensor(y).long()
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"training data must be x [N, ...] and y [N]; got {list(x.shape)} and {list(y.shape)}")
    if x.shape[0] == 0:
        raise ValueError("the training data is empty")
    if not torch.isfinite(x).all():
        raise ValueError("the training inputs contain NaN or infinite values")
    if int(y.min()) < 0:
        raise ValueError("labels must be >= 0")
    num_classes = int(num_classes) if num_classes is not None else int(y.max()) + 1
    if int(y.max()) >= num_classes:
        raise ValueError(f"labels reach {int(y.max())} but there are only {num_classes} classes")
    return x, y, num_classes

"""Labelled training data as tensors: what every distiller accepts."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["as_tensors", "sample_shape"]


def as_tensors(train: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(x [N, ...] float32, y [N] int64, num_classes)`` from a labelled data set.

    Accepts an ``(x, y)`` tuple, an object with ``inputs``/``labels`` (``beamsim.BeamDataset``)
    or ``tensors()``, or any map-style ``Dataset`` of (x, y) pairs.
    """
    num_classes = getattr(train, "num_classes", None)
    source = _source(train)
    if source is None:
        pairs = [train[i] for i in range(len(train))]
        x = torch.stack([torch.as_tensor(p[0]) for p in pairs])
        y = torch.as_tensor([int(p[1]) for p in pairs])
    else:
        x, y = source
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


def _source(train: Any) -> tuple[Any, Any] | None:
    """``(x, y)`` of the forms that hold them whole; None for a map-style ``Dataset`` of pairs.

    Raises:
        TypeError: none of the forms :func:`as_tensors` accepts.
    """
    if isinstance(train, (tuple, list)) and len(train) == 2:
        return train[0], train[1]
    if hasattr(train, "inputs") and hasattr(train, "labels"):
        return train.inputs, train.labels
    if hasattr(train, "tensors") and callable(train.tensors):
        return train.tensors()
    if hasattr(train, "__getitem__") and hasattr(train, "__len__"):
        return None
    raise TypeError("train must be (x, y), a BeamDataset or a Dataset of (x, y) pairs")


def sample_shape(train: Any) -> tuple[int, ...]:
    """The shape of one sample of ``train`` (any form :func:`as_tensors` accepts), without
    converting the data: e.g. ``(1, 8, 8)`` for beam maps.

    >>> sample_shape((torch.zeros(5, 1, 8, 8), torch.zeros(5)))
    (1, 8, 8)
    """
    source = _source(train)
    x = torch.as_tensor(train[0][0])[None] if source is None else source[0]
    return tuple(int(s) for s in x.shape[1:])

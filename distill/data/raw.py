"""What every image loader returns: decoded splits in [0, 1] and a checksum of the source data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["RawSplit", "RawImages", "checksum"]


@dataclass
class RawSplit:
    """One split of an image data set, before any fitted transform.

    Attributes:
        x: [N, C, H, W] float32 pixel values in [0, 1].
        y: [N] int64 class indices.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class RawImages:
    """A labelled image data set as read from disk.

    Attributes:
        train, test: the two splits.
        class_names: one name per class index.
        checksum: hex sha256 of the training split as stored (pixel bytes and labels), so a
            distilled file can tell whether it is evaluated against the data it came from.
    """

    train: RawSplit
    test: RawSplit
    class_names: list[str]
    checksum: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def checksum(name: str, pixels: np.ndarray, labels: np.ndarray) -> str:
    """Hex sha256 of a split's stored pixels (any integer dtype, C order) and labels (as int64).

    >>> checksum("x", np.zeros((1, 2), np.uint8), np.zeros(1)) == checksum("x", np.zeros((1, 2), np.uint8), np.zeros(1))
    True
    """
    digest = hashlib.sha256()
    pixels = np.ascontiguousarray(pixels)
    digest.update(f"{name};{pixels.dtype.str};{list(pixels.shape)};".encode())
    digest.update(pixels.tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()

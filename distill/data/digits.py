"""scikit-learn's bundled handwritten digits: the offline real image set for tests and examples.

``sklearn.datasets.load_digits``: 1,797 grey-scale 8 x 8 images of the digits 0-9 (about 180
per class), pixel values 0..16, shipped inside scikit-learn (no download). Pixels are scaled
to [0, 1] (divided by 16); the split is a fixed stratified 80/20 draw: per class, a
permutation from ``numpy.random.default_rng(SPLIT_SEED)`` and the first
``round(0.2 * n_c)`` images go to the test split (1,437 train, 360 test).
"""

from __future__ import annotations

import numpy as np
import torch

from beamsim.distill.data.raw import RawImages, RawSplit, checksum

__all__ = ["load_digits", "SPLIT_SEED", "TEST_FRACTION"]

#: Seed of the fixed train/test split (part of the data set's definition; never the run's seed).
SPLIT_SEED = 20240917
TEST_FRACTION = 0.2


def _split(labels: np.ndarray) -> np.ndarray:
    """[N] bool, True for the test split (stratified, fixed)."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(labels.shape[0], dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        test[idx[: int(round(TEST_FRACTION * idx.size))]] = True
    return test


def load_digits() -> RawImages:
    """The digits set as [N, 1, 8, 8] float32 in [0, 1] with the fixed stratified split.

    Raises:
        ImportError: scikit-learn is not installed.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    pixels = np.asarray(bunch.images, dtype=np.float64)  # [N, 8, 8], 0..16
    labels = np.asarray(bunch.target, dtype=np.int64)
    test = _split(labels)
    stored = pixels.astype(np.uint8)
    x = torch.from_numpy((pixels / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(labels)
    train_mask, test_mask = torch.from_numpy(~test), torch.from_numpy(test)
    return RawImages(train=RawSplit(x[train_mask], y[train_mask]), test=RawSplit(x[test_mask], y[test_mask]),
                     class_names=[str(int(c)) for c in bunch.target_names],
                     checksum=checksum("digits", stored[~test], labels[~test]))

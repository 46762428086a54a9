"""CIFAR loaders on small folders in the exact "python version" layout, and the restricted unpickler."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from beamsim.distill.data.cifar import load_cifar, safe_load_pickle
from beamsim.errors import DataFileError

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _dump(path: Path, obj) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


def write_cifar10(root: Path, per_batch: int = 4, test: int = 6, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py`` with five data batches, a test batch and batches.meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        _dump(folder / f"data_batch_{i}", {
            b"batch_label": f"training batch {i} of 5".encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}_{k}.png".encode() for k in range(per_batch)],
        })
    _dump(folder / "test_batch", {b"labels": [int(v) for v in rng.integers(0, 10, test)],
                                  b"data": rng.integers(0, 256, (test, 3072), dtype=np.uint8)})
    _dump(folder / "batches.meta", {b"label_names": [n.encode() for n in NAMES], b"num_cases_per_batch": per_batch,
                                    b"num_vis": 3072})
    return root


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_cifar10_layout_shapes_and_pixel_order(tmp_path):
    root = write_cifar10(tmp_path)
    first = np.zeros((4, 3072), dtype=np.uint8)
    first[0, :1024] = 255  # image 0 of batch 1: red plane full, green and blue empty
    _dump(root / "cifar-10-batches-py" / "data_batch_1", {b"labels": [3, 1, 2, 0], b"data": first})
    data = load_cifar(root, "cifar10")
    assert data.train.x.shape == (20, 3, 32, 32) and data.train.x.dtype == torch.float32
    assert data.test.x.shape == (6, 3, 32, 32)
    assert data.class_names == NAMES and data.num_classes == 10
    assert data.train.y[:4].tolist() == [3, 1, 2, 0]
    assert torch.all(data.train.x[0, 0] == 1.0) and torch.all(data.train.x[0, 1:] == 0.0)
    assert 0.0 <= float(data.train.x.min()) and float(data.train.x.max()) <= 1.0
    # the folder itself is accepted as the root; the checksum identifies the training data
    assert load_cifar(root / "cifar-10-batches-py").checksum == data.checksum


def test_cifar100_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("train", 5), ("test", 3)):
        _dump(folder / name, {b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                              b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
                              b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)})
    _dump(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)],
                            b"coarse_label_names": [f"s{i}".encode() for i in range(20)]})
    data = load_cifar(tmp_path, "cifar100")
    assert (len(data.train), len(data.test), data.num_classes) == (5, 3, 100)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    root = write_cifar10(tmp_path / "root")
    marker = tmp_path / "pwned.txt"
    _dump(root / "cifar-10-batches-py" / "data_batch_3", {b"data": Evil(marker), b"labels": [0]})
    with pytest.raises(DataFileError, match="refusing to load posix.system|refusing to load nt.system|refusing"):
        load_cifar(root)
    assert not marker.exists(), "the crafted pickle ran its command"


@pytest.mark.parametrize("payload", [eval, getattr, Path, torch.zeros])
def test_other_globals_are_refused(tmp_path, payload):
    path = tmp_path / "x.pkl"
    _dump(path, {b"data": payload})
    with pytest.raises(DataFileError, match="refusing to load"):
        safe_load_pickle(path)


def test_missing_and_malformed_roots_name_the_layout(tmp_path):
    with pytest.raises(DataFileError, match=r"no such folder; expected DIR/cifar-10-batches-py/"):
        load_cifar(tmp_path / "nowhere")
    with pytest.raises(DataFileError, match=r"no cifar-10-batches-py/ folder in it; expected DIR/cifar-10-batches-py/"):
        load_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataFileError, match=r"batches.meta is missing; expected DIR/cifar-10-batches-py/"):
        load_cifar(tmp_path)
    root = write_cifar10(tmp_path / "bad")
    _dump(root / "cifar-10-batches-py" / "data_batch_2", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DataFileError, match=r"must be uint8 \[N, 3072\]"):
        load_cifar(root)
    (root / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"not a pickle")
    with pytest.raises(DataFileError, match="not a readable CIFAR pickle"):
        load_cifar(root)
    _dump(root / "cifar-10-batches-py" / "data_batch_2", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]})
    with pytest.raises(DataFileError, match=r"labels must lie in 0..9"):
        load_cifar(root)

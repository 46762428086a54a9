"""Class-per-folder loader on a few tiny PNGs written by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from beamsim.distill.data.imagefolder import load_imagefolder
from beamsim.errors import DataFileError


def _png(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def write_folder(root: Path) -> Path:
    """2 classes; train: 2 images each (different sizes), val: 1 each; a stray text file."""
    for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        _png(root / "train" / cls / "a.png", (12, 20), colour)
        _png(root / "train" / cls / "b.PNG", (30, 10), colour)
        _png(root / "val" / cls / "c.png", (16, 16), colour)
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    return root


def test_reads_resizes_and_labels(tmp_path):
    data = load_imagefolder(write_folder(tmp_path), image_size=8)
    assert data.class_names == ["cat", "dog"]
    assert data.train.x.shape == (4, 3, 8, 8) and data.test.x.shape == (2, 3, 8, 8)
    assert data.train.y.tolist() == [0, 0, 1, 1] and data.test.y.tolist() == [0, 1]
    assert torch.allclose(data.train.x[0, 0], torch.ones(8, 8)) and float(data.train.x[0, 2].max()) == 0.0
    assert torch.allclose(data.train.x[2, 2], torch.ones(8, 8))
    assert load_imagefolder(tmp_path, image_size=8).checksum == data.checksum


def test_center_crop_keeps_the_middle(tmp_path):
    image = np.zeros((10, 30, 3), np.uint8)
    image[:, 10:20] = 255  # a white middle third on a 30 x 10 (w x h) image
    (tmp_path / "train" / "a").mkdir(parents=True)
    Image.fromarray(image).save(tmp_path / "train" / "a" / "x.png")
    _png(tmp_path / "val" / "a" / "y.png", (4, 4), (0, 0, 0))
    data = load_imagefolder(tmp_path, image_size=10)
    assert float(data.train.x[0].min()) > 0.9  # the crop is the white middle


def test_layout_errors_name_the_layout(tmp_path):
    with pytest.raises(DataFileError, match="no such folder; expected DIR/train/<class>"):
        load_imagefolder(tmp_path / "nowhere")
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataFileError, match="no val/ folder; expected DIR/train/<class>"):
        load_imagefolder(tmp_path)
    (tmp_path / "val" / "a").mkdir(parents=True)
    with pytest.raises(DataFileError, match="train/ holds no images"):
        load_imagefolder(tmp_path)
    _png(tmp_path / "train" / "a" / "x.png", (4, 4), (1, 2, 3))
    (tmp_path / "val" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataFileError, match="cannot be decoded"):
        load_imagefolder(tmp_path)
    (tmp_path / "val" / "a" / "broken.png").unlink()
    _png(tmp_path / "val" / "b" / "y.png", (4, 4), (1, 2, 3))
    with pytest.raises(DataFileError, match="val/b is not a class of train/"):
        load_imagefolder(tmp_path)

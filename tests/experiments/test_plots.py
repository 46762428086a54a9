"""Evaluation plots: a confusion matrix always, the RSRP-loss CDF only where the task has that loss."""

from __future__ import annotations

from pathlib import Path

import torch

from beamsim.experiments import loaders
from beamsim.experiments.evaluate import IMAGE, evaluate
from beamsim.experiments.plots import confusion_matrix, write_evaluation_plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_pools_runs():
    counts = confusion_matrix(torch.tensor([[0, 1, 1], [0, 0, 1]]), torch.tensor([0, 1, 1]), 2)
    assert counts.tolist() == [[2, 0], [1, 3]]


def test_beam_result_gets_both_plots(beam_file, tmp_path):
    written = write_evaluation_plots(evaluate(beam_file, runs=1, epochs=1), tmp_path)
    assert [p.name for p in written] == ["confusion_matrix.png", "rsrp_loss_cdf.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)


def test_image_result_gets_the_confusion_matrix_only(tmp_path):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(24) % 4
    test = loaders.TestSet(x=torch.randn(24, 3, 8, 8, generator=g), y=y, rsrp=None, mask=None, num_classes=4,
                           path=Path("toy"), checksum="", task=IMAGE, dsa_strategy="crop_flip")
    result = evaluate((test.x, test.y), test=test, runs=1, epochs=1, batch_size=8)
    written = write_evaluation_plots(result, tmp_path)
    assert [p.name for p in written] == ["confusion_matrix.png"] and not (tmp_path / "rsrp_loss_cdf.png").exists()

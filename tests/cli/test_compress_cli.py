"""CLI: beamsim compress - output file, JSON document, byte breakdown in info, one-line errors."""

import json

import pytest
import torch
from typer.testing import CliRunner

import beamsim.cli.main  # noqa: F401  (registers every command)
from beamsim.cli.main import app
from beamsim.distill import container
from beamsim.distill.provenance import Provenance
from tests.cli.test_generate_cli import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def tiny_distilled(tmp_path):
    """A float32 distilled file: 4 classes x 2 beam maps [8, 1, 8, 8], no source data set."""
    g = torch.Generator().manual_seed(0)
    idx = torch.arange(8)
    observed = ((idx.view(-1, 1) + idx.view(1, -1)) % 2 == 0).view(1, 8, 8)
    x = torch.where(observed, torch.rand(8, 1, 8, 8, generator=g), torch.ones(()))
    path = tmp_path / "tiny.h5"
    container.save(path, x, torch.arange(4).repeat_interleave(2), None, provenance=Provenance(source_samples=100, spc=2))
    return path


def test_compress_writes_the_file_and_one_json_document(tmp_path, tiny_distilled):
    out = tmp_path / "c.h5"
    r = run("compress", tiny_distilled, "--bits", 2, "--no-refine", "--out", out, "--json", "--seed", 1)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("bytes", "samples_per_class", "groups", "bits", "compression_ratio", "budget_bytes"):
        assert key in doc
    assert doc["budget_bytes"] == 8 * 64 * 4 and doc["bytes"]["payload"] <= doc["budget_bytes"]
    assert doc["samples_per_class"] == 2 and doc["extra_rows"] == 0
    x, y = container.load(out)
    assert x.shape == (8, 1, 8, 8) and y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    info = run("info", out, "--json")
    assert info.exit_code == 0 and json.loads(info.stdout)["bytes"]["codes"] == doc["bytes"]["codes"]
    table = run("info", out)
    assert table.exit_code == 0 and "group_indices" in table.stdout


def test_beam_maps_default_to_4_bit_codes_and_the_name_says_so(tmp_path, tiny_distilled):
    r = run("compress", tiny_distilled, "--no-refine", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["bits"] == 4 and doc["path"] == str(tmp_path / "tiny-ptq4-rc.h5")
    assert container.describe(doc["path"])["bits"] == 4


def test_compress_with_refinement_table_output(tmp_path, tiny_distilled):
    out = tmp_path / "r.h5"
    r = run("compress", tiny_distilled, "--bits", 3, "--patch", 4, "--groups", 2, "--budget-bytes", 2000,
            "--no-entropy", "--out", out, "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "compressed" in r.stdout and out.exists()
    assert container.describe(out)["entropy"] == "none"


@pytest.fixture
def tiny_source(tmp_path):
    """A beam data-set file of 160 random samples (fixed checkerboard mask), no simulation."""
    import numpy as np

    from beamsim.dataset import BeamArrays, write_dataset

    rng = np.random.default_rng(0)
    n = 160
    rsrp = (-90 + 20 * rng.random((n, 8, 8))).astype(np.float32)
    idx = np.arange(8)
    mask = np.broadcast_to((idx[:, None] + idx[None, :]) % 2 == 0, (n, 8, 8)).copy()
    arrays = BeamArrays(rsrp=rsrp, mask=mask, label=rsrp.reshape(n, -1).argmax(1).astype(np.int16),
                        ue_pos=rng.random((n, 3)).astype(np.float32), los=np.zeros(n, dtype=bool),
                        split=(np.arange(n) % 5 == 0).astype(np.uint8))
    path = tmp_path / "src.h5"
    write_dataset(path, arrays, {"scenario": "", "seed": 0})
    return path


def test_budget_is_filled_from_the_source_data_set(tmp_path, tiny_source):
    from beamsim.dataset import BeamDataset

    train = BeamDataset(tiny_source, "train", encoding="attenuation")
    keep = torch.cat([(train.labels == c).nonzero()[:1, 0] for c in range(64) if (train.labels == c).any()])
    distilled = tmp_path / "d.h5"
    container.save(distilled, train.inputs[keep], train.labels[keep], None, num_classes=64,
                   provenance=Provenance(source_path=str(tiny_source), encoding="attenuation",
                                         source_samples=len(train)))
    out = tmp_path / "c.h5"
    r = run("compress", distilled, "--no-refine", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["extra_rows"] > 0 and doc["samples"] > len(keep) and doc["bytes"]["payload"] <= doc["budget_bytes"]
    assert container.describe(out)["num_samples"] == doc["samples"]


def test_a_missing_source_warns_and_keeps_the_files_rows(tmp_path, tiny_source):
    from beamsim.dataset import BeamDataset

    train = BeamDataset(tiny_source, "train", encoding="attenuation")
    distilled = tmp_path / "d.h5"
    container.save(distilled, train.inputs[:8], torch.arange(8) % 4, None, num_classes=64,
                   provenance=Provenance(source_path=str(tmp_path / "gone.h5"), encoding="attenuation"))
    r = run("compress", distilled, "--no-refine", "--out", tmp_path / "c.h5")
    assert r.exit_code == 0, r.output
    assert "gone.h5 not found: only the file's own rows can be kept (give --source)" in " ".join(r.stderr.split())
    r = run("compress", distilled, "--no-refine", "--source", tiny_source, "--out", tmp_path / "e.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["extra_rows"] > 0


def test_a_source_that_is_not_a_beam_data_set_is_refused(tmp_path, tiny_distilled):
    r = run("compress", tiny_distilled, "--source", tiny_distilled, "--out", tmp_path / "c.h5")
    assert_one_line_error(r, "extra samples come from a beam data set (format 'beamsim.dataset'), found "
                             "'beamsim.distilled'; use --no-extra")
    r = run("compress", tiny_distilled, "--out", tmp_path / "c.h5", "--no-refine")
    assert r.exit_code == 0 and "no source data set recorded in the file" in " ".join(r.stderr.split())


@pytest.mark.parametrize("args,fragment", [
    (["--bits", "9"], "outside 1..8"),
    (["--bits", "0"], "outside 1..8"),
    (["--patch", "0"], "patch"),
    (["--groups", "many"], "--groups"),
    (["--budget-bytes", "0"], "budget_bytes"),
    (["--budget-bytes", "10", "--no-refine", "--json"], "too small"),
])
def test_bad_options(tmp_path, tiny_distilled, args, fragment):
    r = run("compress", tiny_distilled, "--out", tmp_path / "x.h5", *args)
    assert_one_line_error(r, fragment)
    assert not (tmp_path / "x.h5").exists()


def test_missing_and_foreign_files(tmp_path):
    assert_one_line_error(run("compress", tmp_path / "none.h5", "--out", tmp_path / "o.h5"), "no such file")
    (tmp_path / "junk.h5").write_text("junk")
    assert_one_line_error(run("compress", tmp_path / "junk.h5", "--out", tmp_path / "o.h5"), "not an HDF5 file")


def test_a_compressed_image_set_evaluates_on_its_own_test_split(tmp_path):
    # the compressed file carries the input's data-set record, so evaluate finds the digits test split
    src, out = tmp_path / "digits.h5", tmp_path / "digits-c.h5"
    r = run("distill", "--dataset", "digits", "--ipc", 1, "--objective", "none", "--quantizer", "none",
            "--out", src, "--json")
    assert r.exit_code == 0, r.output
    r = run("compress", src, "--bits", 2, "--no-refine", "--no-extra", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    r = run("evaluate", "--train", out, "--runs", 1, "--epochs", 1, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["model"] == "convnet3"

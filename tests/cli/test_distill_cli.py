"""CLI: beamsim distill and bench distill - outputs, JSON keys, one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from tests.cli.test_generate_cli import assert_one_line_error

runner = CliRunner()

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


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_distill_writes_the_packed_file_and_json(tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "d.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 2, "--bits", 6, "--objective", "dm", "--config", tiny_config,
            "--out", out, "--json", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("path", "payload_bits", "file_bytes", "compression_ratio", "wall_s"):
        assert key in doc
    assert out.exists() and not (tmp_path / "d.h5.ckpt.pt").exists()
    assert doc["file_bytes"] <= doc["payload_bits"] / 8 + 16 * 1024
    info = run("info", out, "--json")
    assert info.exit_code == 0 and json.loads(info.stdout)["bits"] == 6


def test_distill_tm_with_evaluation(tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "tm.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 1, "--bits", 3, "--config", tiny_config, "--objective", "tm",
            "--out", out, "--json", "--eval-runs", 1, "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert 0.0 <= doc["evaluation"]["top1"]["mean"] <= 1.0


def test_coreset_and_float_output(tmp_path, tiny_dataset):
    r = run("distill", "--data", tiny_dataset, "--objective", "none", "--quantizer", "none", "--spc", 2,
            "--out", tmp_path / "c.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["bits"] == 32


@pytest.mark.parametrize("args,fragment", [
    (["--bits", "9"], "out of range"),
    (["--bits", "32"], "out of range"),
    (["--spc", "0"], "--spc"),
    (["--objective", "magic"], "unknown objective"),
    (["--quantizer", "zip"], "unknown quantizer"),
    (["--init", "random"], "unknown init"),
    (["--encoding", "loud"], "unknown encoding"),
])
def test_bad_options(tiny_dataset, args, fragment, tmp_path):
    r = run("distill", "--data", tiny_dataset, "--out", tmp_path / "x.h5", *args)
    assert_one_line_error(r, fragment)
    assert not (tmp_path / "x.h5").exists()


def test_bad_data_files(tmp_path):
    assert_one_line_error(run("distill", "--data", tmp_path / "none.h5"), "no such file")
    (tmp_path / "junk.h5").write_text("junk")
    assert_one_line_error(run("distill", "--data", tmp_path / "junk.h5"), "not an HDF5 file")


def test_distilled_file_is_not_a_data_set(tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "d.h5"
    assert run("distill", "--data", tiny_dataset, "--spc", 1, "--config", tiny_config, "--out", out).exit_code == 0
    assert_one_line_error(run("distill", "--data", out, "--out", tmp_path / "e.h5"), "not a beamsim data set")


def test_checkpoint_of_other_settings_is_refused(tmp_path, tiny_dataset, tiny_config):
    from beamsim.dataset import BeamDataset
    from beamsim.distill.config import default_config, load_config
    from beamsim.distill.quadd import QuADD

    out = tmp_path / "d.h5"
    ckpt = tmp_path / "d.h5.ckpt.pt"
    cfg = load_config(tiny_config, default_config("beam")).replace(spc=1, bits=4)
    QuADD(cfg, device="cpu", checkpoint_path=ckpt).fit(BeamDataset(tiny_dataset, "train", encoding="attenuation"))
    assert ckpt.exists()
    r = run("distill", "--data", tiny_dataset, "--spc", 1, "--bits", 6, "--config", tiny_config, "--out", out,
            "--resume")
    assert_one_line_error(r, "other settings")
    assert not out.exists()


def test_bench_distill_json(tiny_dataset, tmp_path):
    r = run("bench", "distill", "--data", tiny_dataset, "--objective", "dm", "--iterations", 2, "--repeats", 1,
            "--spc", 2, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("seconds_per_iteration_quantized", "seconds_per_iteration_unquantized", "ratio", "peak_rss_mb"):
        assert key in doc

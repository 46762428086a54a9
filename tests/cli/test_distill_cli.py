"""CLI: beamsim distill and bench distill - outputs, JSON keys, one-line errors."""

import csv
import json
import tomllib

import pytest
import torch
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.distill.config import default_config
from beamsim.distill.container import read
from tests.cli.test_generate_cli import assert_one_line_error
from tests.tiny import TINY

runner = CliRunner()


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


def test_history_has_one_row_per_iteration_with_the_student_step(tmp_path, tiny_dataset, tiny_config):
    out, history = tmp_path / "tm.h5", tmp_path / "logs" / "tm.csv"
    r = run("distill", "--data", tiny_dataset, "--spc", 1, "--bits", 3, "--config", tiny_config, "--objective", "tm",
            "--out", out, "--json", "--history", history, "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["history"] == str(history)
    with open(history, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["iteration"]) for row in rows] == [1, 2]
    # --objective tm took trajectory matching's own shipped step (the tiny file does not set one)
    assert tomllib.loads(str(read(out).attrs["settings"]))["config"]["lr_syn"] == default_config("beam", objective="tm").step.lr_syn
    for key in ("loss", "grad_norm", "syn_lr", "seconds"):
        assert all(float(row[key]) >= 0 for row in rows), key


def test_coreset_and_float_output(tmp_path, tiny_dataset):
    r = run("distill", "--data", tiny_dataset, "--objective", "none", "--quantizer", "none", "--spc", 2,
            "--out", tmp_path / "c.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["bits"] == 32


@pytest.mark.parametrize("args,fragment", [
    (["--bits", "9"], "out of range"),
    (["--bits", "32"], "out of range"),
    (["--spc", "0"], "--spc"),
    (["--objective", "magic"], "'--objective': Value error, 'magic' is not one of 'tm', 'dm', 'dc', 'none'"),
    (["--quantizer", "zip"], "'--quantizer': Value error, 'zip' is not one of"),
    (["--init", "random"], "'--init': Value error, 'random' is not one of"),
    (["--encoding", "loud"], "'--encoding': Value error, 'loud' is not one of 'attenuation', 'relative'"),
])
def test_bad_options(tiny_dataset, args, fragment, tmp_path):
    r = run("distill", "--data", tiny_dataset, "--out", tmp_path / "x.h5", *args)
    assert_one_line_error(r, fragment)
    assert not (tmp_path / "x.h5").exists()


def test_bad_history_path_and_config_tables_are_one_line_errors(tiny_dataset, tiny_config, tmp_path):
    (tmp_path / "logs").mkdir()
    r = run("distill", "--data", tiny_dataset, "--config", tiny_config, "--out", tmp_path / "x.h5",
            "--history", tmp_path / "logs")
    assert_one_line_error(r, "is a folder")
    fast = tmp_path / "fast.toml"
    fast.write_text("[fast]\niterations = 1\n")
    assert_one_line_error(run("distill", "--data", tiny_dataset, "--config", fast, "--out", tmp_path / "x.h5"),
                          "named after an objective")
    assert not (tmp_path / "x.h5").exists() and not list(tmp_path.glob("*.tmp"))


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


def test_resume_continues_an_interrupted_run_and_writes_the_same_bytes(tmp_path, tiny_dataset, tiny_config,
                                                                       monkeypatch):
    from beamsim.distill.quadd import QuADD

    args = ["distill", "--data", tiny_dataset, "--spc", 1, "--bits", 4, "--objective", "dm", "--config", tiny_config,
            "--cache-dir", tmp_path / "cache"]
    whole = tmp_path / "whole.h5"
    r = run(*args, "--out", whole, "--resume")  # nothing to resume: said once, then a whole run
    assert r.exit_code == 0, r.output
    assert f"no checkpoint at {whole}.ckpt.pt; starting from the beginning" in " ".join(r.stderr.split())

    fit, done_iterations = QuADD.fit, []

    def watched_fit(self, train, *, resume=False):  # records each finished iteration; stops after the first
        report = self.progress

        def watch(done, total, info):
            report(done, total, info)
            done_iterations.append(done)
            if done == 1 and stop_after_one:  # its checkpoint is written (tiny: checkpoint_every = 1)
                raise KeyboardInterrupt

        self.progress = watch
        return fit(self, train, resume=resume)

    out = tmp_path / "d.h5"
    monkeypatch.setattr(QuADD, "fit", watched_fit)
    stop_after_one = True
    assert run(*args, "--out", out).exit_code == 130
    assert (tmp_path / "d.h5.ckpt.pt").exists() and not out.exists()
    stop_after_one, done_iterations[:] = False, []
    r = run(*args, "--out", out, "--resume", "--json")
    assert r.exit_code == 0, r.output
    assert done_iterations == [2]  # only the second iteration ran
    assert "no checkpoint" not in r.stderr and not (tmp_path / "d.h5.ckpt.pt").exists()
    assert out.read_bytes() == whole.read_bytes()


def test_bench_distill_json(tiny_dataset, tmp_path):
    r = run("bench", "distill", "--data", tiny_dataset, "--objective", "dm", "--iterations", 2, "--repeats", 1,
            "--spc", 2, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("seconds_per_iteration_quantized", "seconds_per_iteration_unquantized", "ratio", "peak_rss_mb",
                "gflop_per_iteration", "achieved_gflop_per_s"):
        assert key in doc


# --- image sets -----------------------------------------------------------------------------

IMAGE_TINY = """
iterations = 2
real_per_class = 4
val_fraction = 0.0
num_experts = 1
expert_epochs_train = 2
max_start_epoch = 1
initial_max_start_epoch = 0
expert_epochs = 1
syn_steps = 2
batch_syn = 8
checkpoint_every = 0
"""


@pytest.fixture
def image_config(tmp_path):
    path = tmp_path / "image.toml"
    path.write_text(IMAGE_TINY)
    return path


def test_distill_digits_then_evaluate_the_file(tmp_path, image_config):
    import tomllib

    from beamsim.distill import describe

    out = tmp_path / "digits.h5"
    r = run("distill", "--dataset", "digits", "--ipc", 2, "--bits", 3, "--objective", "dm", "--model", "beamcnn",
            "--config", image_config, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["dataset"], doc["bits"], doc["samples"], doc["zca"], doc["model"]) == ("digits", 3, 20, False, "beamcnn")
    assert doc["payload_bits"] == 20 * 64 * 3  # bits per sub-pixel
    info = describe(out)
    settings = tomllib.loads(info["settings"])
    assert settings["dataset"]["name"] == "digits" and settings["config"]["dsa"] is True
    assert info["class_names"] == [str(d) for d in range(10)]
    ev = runner.invoke(app, ["evaluate", "--train", str(out), "--runs", "1", "--epochs", "2", "--json"])
    assert ev.exit_code == 0, ev.output
    result = json.loads(ev.stdout)
    assert {"top1", "top5", "macro_f1"} <= set(result) and "rsrp_loss_db" not in result and "reference" not in result
    assert result["model"] == "beamcnn" and result["protocol"]["augment"].startswith("dsa:")
    assert result["test_samples"] == 359 and result["modality"] == "image"
    table = runner.invoke(app, ["evaluate", "--train", str(out), "--runs", "1", "--epochs", "1"])
    assert table.exit_code == 0 and "top-5" in table.stdout and "RSRP" not in table.stdout


def test_distill_cifar10_from_a_python_version_folder(tmp_path, image_config):
    from tests.distill.data.test_cifar import write_cifar10

    root = write_cifar10(tmp_path / "cifar", per_batch=4)
    out = tmp_path / "c.h5"
    r = run("distill", "--dataset", "cifar10", "--data-root", root, "--ipc", 1, "--objective", "none",
            "--model", "beamcnn", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["zca"] is True and doc["bits"] == 3 and doc["payload_bits"] == doc["samples"] * 3072 * 3


@pytest.mark.parametrize("args,fragment", [
    (["--dataset", "mnist"], "'--dataset': Value error, 'mnist' is not one of"),
    (["--dataset", "cifar10"], "needs --data-root DIR with DIR/cifar-10-batches-py/"),
    (["--dataset", "cifar100", "--data-root", "{tmp}"], "expected DIR/cifar-100-python/{train, test, meta}"),
    (["--dataset", "imagefolder", "--data-root", "{tmp}/none"], "expected DIR/train/<class>"),
    (["--dataset", "digits", "--data", "x.h5"], "--data applies to beam data sets"),
    (["--dataset", "digits", "--image-size", "16"], "--image-size applies to imagefolder only"),
    (["--zca"], "--zca/--no-zca applies to image sets"),
])
def test_bad_image_options(tmp_path, args, fragment):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = run("distill", *args, "--out", tmp_path / "x.h5")
    assert_one_line_error(r, fragment)
    assert not (tmp_path / "x.h5").exists()


def test_proportional_allocation_keeps_the_total_and_names_the_file(tmp_path, tiny_dataset, tiny_config):
    from beamsim.distill import describe

    docs = {}
    for allocation in ("fixed", "proportional"):
        r = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "none", "--quantizer", "none",
                "--allocation", allocation, "--config", tiny_config, "--out", tmp_path / f"{allocation}.h5", "--json")
        assert r.exit_code == 0, r.output
        docs[allocation] = json.loads(r.stdout)
    assert docs["proportional"]["allocation"] == "proportional" and "allocation" not in docs["fixed"]
    assert docs["proportional"]["samples"] == docs["fixed"]["samples"]
    assert describe(tmp_path / "proportional.h5")["samples_per_class"] != describe(tmp_path / "fixed.h5")["samples_per_class"]
    bad = run("distill", "--data", tiny_dataset, "--allocation", "proportional", "--init", "noise", "--out", tmp_path / "x.h5")
    assert_one_line_error(bad, "use --allocation fixed")


def test_patience_stops_on_a_plateau_and_reports_the_iterations_run(tmp_path, tiny_dataset):
    config = tmp_path / "plateau.toml"
    config.write_text(TINY.replace("iterations = 2", "iterations = 8").replace("val_fraction = 0.0", "val_fraction = 0.3")
                      + "val_every = 1\nval_epochs = 2\n")
    r = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "dm", "--patience", 1, "--config", config,
            "--out", tmp_path / "p.h5", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["patience"] == 1 and doc["iterations_run"] == len(doc["validation"]) <= 8
    assert tomllib.loads(str(read(tmp_path / "p.h5").attrs["settings"]))["iterations_run"] == doc["iterations_run"]
    plain = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "dm", "--config", config,
                "--out", tmp_path / "q.h5", "--json")
    assert "iterations_run" not in json.loads(plain.stdout)
    bad = run("distill", "--data", tiny_dataset, "--patience", -1, "--out", tmp_path / "x.h5")
    assert_one_line_error(bad, "val_patience must be >= 0")


def test_soft_labels_are_stored_counted_and_trained_on(tmp_path, tiny_dataset):
    from beamsim.distill import describe
    from beamsim.distill.labels import label_bits
    from beamsim.experiments.loaders import load_training_set

    config = tmp_path / "soft.toml"
    config.write_text(TINY)
    out = tmp_path / "soft.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "tm", "--soft-labels", "--label-topk", 3,
            "--label-bits", 2, "--config", config, "--cache-dir", tmp_path / "cache", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc, info = json.loads(r.stdout), describe(out)
    per_sample = label_bits(info["num_classes"], 3, 2)
    assert doc["soft_labels"] == {"top_k": 3, "bits": 2, "label_bits_stored": doc["samples"] * per_sample}
    assert info["total_bits_stored"] == info["payload_bits_stored"] + info["overhead_bits"] + doc["samples"] * per_sample
    targets = load_training_set(out).targets
    assert targets is not None and targets.shape == (doc["samples"], info["num_classes"])
    assert torch.allclose(targets.sum(1), torch.ones(doc["samples"])) and int((targets > 0).sum(1).max()) <= 3
    ev = run("evaluate", "--train", out, "--runs", 1, "--epochs", 1, "--json")
    assert ev.exit_code == 0, ev.output
    assert_one_line_error(run("distill", "--data", tiny_dataset, "--label-bits", 3, "--out", tmp_path / "x.h5"),
                          "apply to --soft-labels")
    assert_one_line_error(run("distill", "--data", tiny_dataset, "--soft-labels", "--objective", "dm",
                              "--out", tmp_path / "x.h5"), "use --objective tm")


@pytest.mark.parametrize("options, message", [
    (("--soft-labels", "--label-topk", 65), "more than the 64 classes"),
    (("--soft-labels", "--label-bits", 9), "label_bits must lie in 1..8"),
    (("--soft-labels", "--label-topk", 0), "label_topk must be >= 1"),
])
def test_bad_soft_label_options_are_one_line_and_write_nothing(tmp_path, tiny_dataset, tiny_config, options, message):
    out = tmp_path / "x.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "tm", *options, "--config", tiny_config,
            "--cache-dir", tmp_path / "cache", "--out", out)
    assert_one_line_error(r, message)
    assert not out.exists() and not list(tmp_path.glob("x.h5*"))

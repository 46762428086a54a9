"""CLI: beamsim study rate-distortion | imbalance | baselines - outputs, resume, JSON, one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.distill.quadd import QuADD
from tests.cli.test_generate_cli import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def common(data, out, config, cache):
    return ["--data", data, "--out", out, "--config", config, "--cache-dir", cache, "--runs", 1, "--epochs", 2,
            "--device", "cpu"]


def test_rate_distortion_json_then_resume_from_the_cache(tmp_path, tiny_dataset, tiny_config, monkeypatch):
    out = tmp_path / "rd"
    args = ["study", "rate-distortion", "--spc", 2, "--bits", "2,4", "--json",
            *common(tiny_dataset, out, tiny_config, tmp_path / "cache")]
    r = run(*args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["study"] == "rate-distortion" and doc["points_total"] == 2 and doc["points_computed"] == 2
    assert [s["label"] for s in doc["figures"]["rate_distortion"]["series"]] == ["spc 2"]
    for name in ("rate_distortion.csv", "sweet_spots.csv", "rate_distortion.png", "rate_distortion.json"):
        assert (out / name).exists(), name
    assert r.stderr.count("running") == 2
    assert all(p["command"].startswith("beamsim distill --data ") for p in doc["points"])

    monkeypatch.setattr(QuADD, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("distilled again")))
    again = run(*args)
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    assert doc["points_cached"] == 2 and doc["points_computed"] == 0
    assert again.stderr.count(": cached") == 2


def test_imbalance_prints_a_table_and_the_shortage(tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "imb"
    r = run("study", "imbalance", "--spc", 2, "--bits", "3", *common(tiny_dataset, out, tiny_config, tmp_path / "c"))
    assert r.exit_code == 0, r.output
    assert "imbalance: 2 points" in r.stdout and "classes have fewer than 2 training samples" in r.stdout
    assert (out / "imbalance.png").exists() and (out / "imbalance_classes.csv").exists()


def test_baselines_subset_of_methods(tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "base"
    r = run("study", "baselines", "--spc", 2, "--bits", 4, "--methods", "full-f32,quadd-uniform", "--json",
            *common(tiny_dataset, out, tiny_config, tmp_path / "c"))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [row["method"] for row in doc["tables"]["baselines"]] == ["full-f32", "quadd-uniform"]
    assert doc["tables"]["baselines"][0]["compression_ratio"] == 1.0
    assert (out / "baselines.png").exists() and (out / "baselines.csv").exists()


def test_default_output_folder(tmp_path, tiny_dataset, tiny_config, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("study", "baselines", "--methods", "full-f32", "--data", tiny_dataset, "--runs", 1, "--epochs", 1,
            "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "runs" / "study-baselines" / "baselines.json").exists()


@pytest.mark.parametrize("args,fragment", [
    (["rate-distortion", "--bits", "2,x"], "'x' is not an integer"),
    (["rate-distortion", "--bits", "9"], "out of range"),
    (["rate-distortion", "--spc", "0"], "--spc"),
    (["rate-distortion", "--quantizer", "zip"], "'--quantizer': Value error, 'zip' is not one of"),
    (["imbalance", "--bits", "9"], "out of range"),
    (["imbalance", "--spc", "0"], "--spc"),
    (["baselines", "--bits", "9"], "out of range"),
    (["baselines", "--methods", "random,zip"], "unknown method"),
    (["baselines", "--objective", "magic"], "'--objective': Value error, 'magic' is not one of 'tm', 'dm', 'dc'"),
    (["baselines", "--runs", "0"], "--runs"),
    (["imbalance", "--encoding", "loud"], "'--encoding': Value error, 'loud' is not one of"),
])
def test_bad_options_give_one_line_and_exit_1(tmp_path, tiny_dataset, args, fragment):
    out = tmp_path / "never"
    r = run("study", *args, "--data", tiny_dataset, "--out", out)
    assert_one_line_error(r, fragment)
    assert not out.exists()


def test_missing_data_file(tmp_path):
    r = run("study", "baselines", "--data", tmp_path / "none.h5", "--out", tmp_path / "o")
    assert_one_line_error(r, "none.h5")

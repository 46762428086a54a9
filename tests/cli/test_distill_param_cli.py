"""CLI: beamsim distill --param fred|palette (files, evaluation, one-line refusals) and bench distill --param."""

import json

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from tests.cli.test_distill_cli import IMAGE_TINY
from tests.cli.test_generate_cli import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("args, param, quantizer", [
    (["--param", "fred", "--coefficients", 6, "--quantizer", "none"], "fred", "none"),
    (["--param", "fred", "--coefficients", 8, "--bits", 4], "fred", "apot"),
    (["--param", "palette", "--colors", 4], "palette", "none"),  # the palette needs no --quantizer none
])
def test_distill_param_writes_a_file_that_evaluates(args, param, quantizer, tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "p.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 2, "--objective", "dm", "--config", tiny_config, *args,
            "--out", out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["param"], doc["quantizer"]) == (param, quantizer)
    info = json.loads(run("info", out, "--json").stdout)
    assert info["param"] == param and info["file_bytes"] == doc["file_bytes"]
    ev = run("evaluate", "--train", out, "--runs", 1, "--epochs", 1, "--json")
    assert ev.exit_code == 0, ev.output
    assert 0.0 <= json.loads(ev.stdout)["top1"]["mean"] <= 1.0


def test_distill_digits_with_a_palette(tmp_path):
    config = tmp_path / "image.toml"
    config.write_text(IMAGE_TINY)
    out = tmp_path / "digits.h5"
    r = run("distill", "--dataset", "digits", "--ipc", 1, "--objective", "dm", "--model", "beamcnn", "--config",
            config, "--param", "palette", "--colors", 2, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    ev = run("evaluate", "--train", out, "--runs", 1, "--epochs", 1, "--json")
    assert ev.exit_code == 0, ev.output


@pytest.mark.parametrize("args, fragment", [
    (["--param", "wavelet"], "'--param': Value error, 'wavelet' is not one of"),
    (["--coefficients", 4], "--coefficients applies to --param fred"),
    (["--param", "palette", "--coefficients", 4], "--coefficients applies to --param fred"),
    (["--colors", 4], "--colors applies to --param palette"),
    (["--param", "palette", "--colors", 6], "must be a power of two in 2..256"),
    (["--param", "palette", "--colors", 1], "must be a power of two in 2..256"),
    (["--param", "palette", "--quantizer", "apot"], "--param palette is its own quantizer"),
    (["--param", "fred", "--quantizer", "ptq"], "not ptq"),
    (["--param", "fred", "--coefficients", 65], "coefficients"),
    (["--allocation", "greedy"], "'--allocation': Value error, 'greedy' is not one of"),
])
def test_bad_param_options(args, fragment, tmp_path, tiny_dataset, tiny_config):
    out = tmp_path / "x.h5"
    r = run("distill", "--data", tiny_dataset, "--spc", 1, "--objective", "dm", "--config", tiny_config, *args,
            "--out", out)
    assert_one_line_error(r, fragment)
    assert not out.exists()


def test_bench_distill_times_the_parameterized_runs(tiny_dataset, tmp_path):
    r = run("bench", "distill", "--data", tiny_dataset, "--objective", "dm", "--iterations", 2, "--repeats", 1,
            "--spc", 1, "--param", "fred", "--param", "palette", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for name in ("fred", "palette"):
        assert doc[f"seconds_per_iteration_{name}"] > 0 and doc[f"ratio_{name}"] > 0
    bad = run("bench", "distill", "--data", tiny_dataset, "--param", "dct", "--iterations", 1, "--repeats", 1)
    assert_one_line_error(bad, "unknown --param 'dct'")

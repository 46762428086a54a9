"""CLI: generate, merge, info, scenarios, bench generate - exit codes, one-line errors, outputs."""

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("beamsim: error:"), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_generate_json_and_info(tmp_path, tiny_scenario_file):
    out = tmp_path / "d.h5"
    result = run("generate", "--scenario", tiny_scenario_file, "--out", out, "--seed", 3, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["samples"] == 96 and doc["train"] + doc["test"] == 96 and out.exists()
    info = run("info", out, "--json", "--plot", tmp_path / "plots")
    assert info.exit_code == 0, info.output
    desc = json.loads(info.stdout)
    assert desc["samples"] == 96 and sum(desc["class_counts"]) == 96
    assert desc["class_min"] <= desc["class_median"] <= desc["class_max"]
    assert (tmp_path / "plots" / "class_histogram.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "beam_maps.png").stat().st_size > 1000
    table = run("info", out)
    assert table.exit_code == 0 and "classes_present" in table.stdout


def test_shard_and_merge_cli(tmp_path, tiny_scenario_file):
    for i in range(2):
        r = run("generate", "--scenario", tiny_scenario_file, "--shard", f"{i}/2", "--out", tmp_path / f"s{i}.h5", "--json")
        assert r.exit_code == 0, r.output
    r = run("merge", tmp_path / "s1.h5", tmp_path / "s0.h5", "--out", tmp_path / "m.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["samples"] == 96


def test_scenarios_lists_one_line_each():
    r = run("scenarios")
    assert r.exit_code == 0
    names = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert {"umi", "uma", "rma"} <= set(names)


@pytest.mark.parametrize("args,fragment", [
    (["generate", "--scenario", "mars"], "unknown scenario 'mars'"),
    (["generate", "--samples", "0"], "--samples must be a positive integer"),
    (["generate", "--shard", "2/2"], "malformed shard"),
    (["generate", "--mask", "sometimes"], "'--mask': Value error, 'sometimes' is not one of 'fixed', 'random'"),
    (["generate", "--split", "halves"], "'--split'"),
    (["generate", "--device", "tpu"], "unknown device"),
])
def test_generate_bad_input(args, fragment):
    assert_one_line_error(run(*args), fragment)


def test_generate_unwritable_out(tmp_path, tiny_scenario_file):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run("generate", "--scenario", tiny_scenario_file, "--out", locked / "sub" / "x.h5")
        import os

        if os.geteuid() == 0:  # root ignores permissions: use a path under a file instead
            result = run("generate", "--scenario", tiny_scenario_file, "--out", tiny_scenario_file / "x.h5")
        assert_one_line_error(result, "")
    finally:
        locked.chmod(0o700)


def test_info_on_bad_files(tmp_path):
    assert_one_line_error(run("info", tmp_path / "missing.h5"), "no such file")
    (tmp_path / "junk.h5").write_bytes(b"\x00" * 100)
    assert_one_line_error(run("info", tmp_path / "junk.h5"), "not an HDF5 file")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.zeros(2)
    assert_one_line_error(run("info", tmp_path / "foreign.h5"), "not a beamsim file")


def test_info_on_corrupt_dataset(tmp_path, tiny_dataset):
    import shutil

    bad = tmp_path / "bad.h5"
    shutil.copy(tiny_dataset, bad)
    with h5py.File(bad, "a") as f:
        f["label"][0] = (int(f["label"][0]) + 1) % 64
    assert_one_line_error(run("info", bad), "checksum mismatch")


def test_debug_shows_the_traceback():
    result = runner.invoke(app, ["--debug", "generate", "--scenario", "mars"])
    assert result.exit_code != 0 and result.exception is not None
    # --debug holds for that invocation only: the next one is back to one line
    assert_one_line_error(run("generate", "--scenario", "mars"), "mars")


def test_debug_reaches_subcommand_groups():
    result = runner.invoke(app, ["--debug", "study", "baselines", "--data", "missing-file.h5"])
    assert result.exit_code != 0 and result.exception is not None


def test_bench_generate_json(tiny_scenario_file):
    r = run("bench", "generate", "--scenario", tiny_scenario_file, "--samples", 64, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("pipeline_samples_per_s", "sionna_samples_per_s", "ratio", "seconds_sionna", "device"):
        assert key in doc
    assert 0 < doc["ratio"] <= 1.0


def test_help_shows_defaults_written_in_option_help():
    # rich reads "[...]" in help text as markup and drops it; defaults are written "(default: ...)"
    from typer.testing import CliRunner

    from beamsim.cli.main import app

    result = CliRunner().invoke(app, ["generate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "data/<scenario>.h5" in result.output

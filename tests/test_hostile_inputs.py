"""Inputs from elsewhere that are not HDF5, built hostile in the test: scenario and config TOML,
study point records, CIFAR batches and image folders. Each is refused through the CLI with one
stderr line naming the file (exit code 1), runs no code and writes nothing; a corrupt study
point is computed again, with a note."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.tomlio import MAX_TOML_BYTES


def _refused(args: list, folder: Path, *needles: str) -> str:
    """Run the CLI; assert exit 1, one ``beamsim: error:`` line containing every needle, and no
    new file in ``folder``; return the line."""
    before = sorted(folder.rglob("*"))
    result = CliRunner().invoke(app, [str(a) for a in args])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("beamsim: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert sorted(folder.rglob("*")) == before
    return lines[0]


# --- scenario and config TOML ----------------------------------------------------------------------

SCENARIO = "name = 'x'\ndescription = 'y'\n"

#: kind -> (config text, scenario text, a fragment of the refusal). None: the file is made in the test.
BAD_TOML = {
    "missing file": (None, None, "does not exist"),
    "a folder": (None, None, "is a folder"),
    "over the size bound": (None, None, "larger than 1.0 MiB"),
    "not UTF-8": (b"spc = 1\n# \xff\xfe\n", SCENARIO.encode() + b"# \xff\n", "is not UTF-8 text"),
    "syntax error": ("spc = 1\nbits = \n", SCENARIO + "backend = \n", "not valid TOML (Invalid value (at line "),
    "unknown key": ("speed = 3\n", SCENARIO + "speed = 3\n[link]\n", "speed"),
    "unknown table": ("[fast]\nx = 1\n", SCENARIO + "[nope]\n", "not [fast]|unknown table(s) nope"),
    "string for an int": ('spc = "ten"\n', SCENARIO + "[link]\n[dataset]\nsamples = 'many'\n",
                          "spc must be an integer, not str 'ten'|dataset.samples must be an integer"),
    "table for a value": ("[spc]\nx = 1\n", "description = 'y'\n[link]\n[name]\nx = 1\n",
                          "spc must be an integer, not a table|name must be a string, not a table"),
    "value for a table": ("experts = 3\n", SCENARIO + "ue_array = 3\n[link]\n", "must be a table (["),
    "string for a flag": ('replacement = "yes"\n', SCENARIO + "[link]\nenable_pathloss = 'yes'\n", "must be true or false"),
    "float for an int in a table": ("[experts]\nnum = 1.5\n", SCENARIO + "[link]\n[codebook]\nnum_el = 1.5\n",
                                    "experts.num must be an integer|codebook.num_el must be an integer"),
    "NaN": ("lr_syn = nan\n", SCENARIO + "carrier_frequency = nan\n[link]\n", "must be a finite number, not float nan"),
    "a list of the wrong length": ("[tm]\nlr_syn = [1.0]\n", SCENARIO + "backend = 'rt'\n[rt]\ntx_position = [1.0, 2.0]\n",
                                   "tm.lr_syn must be a finite number|rt.tx_position must be a list of 3"),
    "negative spc / frequency": ("spc = -1\n", SCENARIO + "carrier_frequency = -1.0\n[link]\n",
                                 "--spc must be a positive integer|carrier_frequency must be > 0"),
    "bits 0 / no samples": ("[quantizer]\nbits = 0\n", SCENARIO + "[link]\n[dataset]\nsamples = 0\n",
                            "--bits 0 is out of range|samples must be a positive integer"),
    "unknown name": ('objective = "xx"\n', SCENARIO + "[link]\nmodel = 'lte'\n", "unknown objective 'xx'|link.model"),
    "a required key missing": (None, "name = 'x'\n[link]\n", "missing required key(s) description"),
}


def _toml_file(folder: Path, kind: str, text: str | bytes | None) -> Path:
    path = folder / "bad.toml"
    if kind == "a folder":
        path.mkdir()
    elif kind == "over the size bound":
        with path.open("wb") as fh:  # sparse: 8 GiB declared, nothing on disk; reading it all would fill memory
            fh.truncate(8 * 2**30)
    elif text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _check_refusal(args: list, folder: Path, path: Path, fragment: str) -> None:
    line = _refused(args, folder, str(path))
    assert any(part in line for part in fragment.split("|")), line


@pytest.mark.parametrize("kind", [k for k, v in BAD_TOML.items() if v[0] is not None or v[1] is None])
def test_a_bad_config_file_is_refused_in_one_line(tmp_path, kind):
    text, _, fragment = BAD_TOML[kind]
    path = _toml_file(tmp_path, kind, text)
    _check_refusal(["distill", "--data", tmp_path / "data.h5", "--config", path, "--out", tmp_path / "d.h5"],
                   tmp_path, path, fragment)


@pytest.mark.parametrize("kind", list(BAD_TOML))
def test_a_bad_scenario_file_is_refused_in_one_line(tmp_path, kind):
    _, text, fragment = BAD_TOML[kind]
    path = _toml_file(tmp_path, kind, text)
    _check_refusal(["generate", "--scenario", path, "--out", tmp_path / "d.h5", "--device", "cpu"],
                   tmp_path, path, fragment)


def test_a_toml_file_just_under_the_bound_is_read(tmp_path):
    from beamsim.distill.config import read_config

    path = tmp_path / "big.toml"
    path.write_text("spc = 3\n" + "#" * (MAX_TOML_BYTES - 9) + "\n")
    assert path.stat().st_size == MAX_TOML_BYTES
    assert read_config(path) == ({"spc": 3}, {})


def test_a_device_is_not_read_as_a_config_file(tmp_path):
    _refused(["distill", "--data", tmp_path / "data.h5", "--config", os.devnull], tmp_path, os.devnull,
             "not a regular file")


# --- study point records ---------------------------------------------------------------------------

def _study(data: Path, out: Path, config: Path, cache: Path) -> list:
    return ["study", "rate-distortion", "--spc", 2, "--bits", 2, "--data", data, "--out", out, "--config", config,
            "--cache-dir", cache, "--runs", 1, "--epochs", 2, "--device", "cpu", "--json"]


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_dataset) -> tuple[Path, list]:
    """A finished one-point study folder and the arguments that made it (relative to the folder)."""
    from tests.tiny import TINY

    folder = tmp_path_factory.mktemp("study")
    (folder / "tiny.toml").write_text(TINY)
    args = _study(tiny_dataset, folder / "rd", folder / "tiny.toml", folder / "cache")
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return folder, args


def _edit_point(record: dict, kind: str) -> str | bytes:
    import json

    if kind == "not JSON":
        return "{\"key\": "
    if kind == "not UTF-8":
        return b"{\"key\": \"\xff\"}"
    if kind == "nested too deeply":
        return "[" * 200_000 + "]" * 200_000
    if kind == "a list":
        return "[1, 2]"
    if kind == "another point's key":
        record["key"] = "0" * 64
    elif kind == "other source settings":
        record["source"]["config"]["spc"] = 50
    elif kind == "a string for top-1":
        record["evaluation"]["top1"]["mean"] = "high"
    elif kind == "NaN for top-1":
        return json.dumps(record).replace('"std": 0.0', '"std": NaN', 1)
    elif kind == "no evaluation":
        del record["evaluation"]
    elif kind == "a table for num_samples":
        record["info"]["num_samples"] = {"n": 1}
    return json.dumps(record)


POINT_KINDS = ["over the size bound", "not JSON", "not UTF-8", "nested too deeply", "a list", "another point's key",
               "other source settings", "a string for top-1", "NaN for top-1", "no evaluation",
               "a table for num_samples"]


#: These are computed again for real; the others with a stand-in for the computation (the same record).
RECOMPUTED = ("over the size bound", "a string for top-1")


@pytest.mark.parametrize("kind", POINT_KINDS)
def test_a_corrupt_study_point_is_computed_again_with_a_note(study, tmp_path, kind, monkeypatch):
    """Never used, never a traceback: one note on stderr, the point computed again, the file replaced."""
    import copy
    import json
    import shutil

    from beamsim.experiments.studies import runner

    folder, args = study
    computed = []
    if kind not in RECOMPUTED:
        (made,) = (folder / "rd" / "points").glob("*.json")
        stand_in = json.loads(made.read_text().replace(str(folder), str(tmp_path)))
        monkeypatch.setattr(runner, "run_point", lambda ctx, point, key: computed.append(key) or copy.deepcopy(stand_in))
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    args = [str(a).replace(str(folder), str(tmp_path)) for a in args]
    (point,) = (tmp_path / "rd" / "points").glob("*.json")
    good = json.loads(point.read_text())
    if kind == "over the size bound":
        with point.open("wb") as fh:  # sparse: nothing on disk
            fh.truncate(runner.MAX_POINT_BYTES + 1)
    else:
        text = _edit_point(json.loads(point.read_text()), kind)
        point.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    notes = [ln for ln in result.stderr.splitlines() if "not using" in ln]
    assert len(notes) == 1 and str(point) in " ".join(result.stderr.split()), result.stderr
    assert "computing the point again" in " ".join(result.stderr.split())
    doc = json.loads(result.stdout)
    assert doc["points_computed"] == 1 and doc["points_cached"] == 0
    assert computed == ([] if kind in RECOMPUTED else [good["key"]])
    again = json.loads(point.read_text())  # replaced by a valid record of the same numbers
    assert again["key"] == good["key"] and again["evaluation"]["top1"] == good["evaluation"]["top1"]
    assert sorted(p.name for p in (tmp_path / "rd" / "points").iterdir() if p.name.startswith(".")) == []


def test_a_valid_study_point_is_used(study, tmp_path):
    import json
    import shutil

    folder, args = study
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    result = CliRunner().invoke(app, [str(a).replace(str(folder), str(tmp_path)) for a in args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points_cached"] == 1 and "not using" not in result.stderr

"""Files from elsewhere, built hostile in the test: each is refused with one stderr line and
exit code 1 through the CLI, before a byte of its data is read, runs no code and writes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch
import typer
from typer.testing import CliRunner

from beamsim.cli._errors import ErrorMappingGroup
from beamsim.cli.main import app
from beamsim.distill import save
from beamsim.h5safe import DEFAULT_MAX_READ_BYTES, MAX_READ_BYTES_ENV, max_read_bytes


def _refused(args: list[str], folder: Path, needle: str = "") -> str:
    """Run the CLI; assert exit 1, one ``beamsim: error:`` line (containing ``needle``) and no
    new file in ``folder``; return the line."""
    before = sorted(folder.rglob("*"))
    result = CliRunner().invoke(app, [str(a) for a in args])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("beamsim: error: "), result.stderr
    assert needle in lines[0], lines[0]
    assert sorted(folder.rglob("*")) == before
    return lines[0]


@pytest.fixture
def distilled(tmp_path) -> Path:
    """A valid float32 distilled file (16 samples, 4 classes)."""
    path = tmp_path / "set.h5"
    save(path, torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(0)),
         torch.arange(4).repeat_interleave(4), None)
    return path


def _edit(path: Path, change) -> Path:
    with h5py.File(path, "a") as f:
        change(f)
    return path


def _bomb(f, name: str = "scale", shape=(2**34,), dtype="f8", chunks=(2**16,)) -> None:
    """A gzip-compressed dataset declaring ``prod(shape) * itemsize`` bytes; nothing is written."""
    f.create_dataset(name, shape=shape, dtype=dtype, compression="gzip", chunks=chunks)


# --- distilled files -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["info"], ["evaluate", "--train"]])
def test_a_distilled_file_declaring_128_gib_is_refused_before_reading(distilled, tmp_path, command):
    _edit(distilled, _bomb)
    assert distilled.stat().st_size < 100_000
    line = _refused([*command, distilled], tmp_path, MAX_READ_BYTES_ENV)
    assert str(distilled) in line and "/scale" in line and "128.0 GiB" in line


@pytest.mark.parametrize("command", [["info"], ["evaluate", "--train"]])
def test_a_foreign_dataset_is_refused(distilled, tmp_path, command):
    _edit(distilled, lambda f: f.create_dataset("payload2", data=[1.0, 2.0]))
    line = _refused([*command, distilled], tmp_path, "/payload2")
    assert "foreign dataset" in line and str(distilled) in line


@pytest.mark.parametrize("kind", ["soft", "external"])
def test_soft_and_external_links_are_not_followed(distilled, tmp_path, kind):
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["secret"] = [1.0, 2.0]
    link = h5py.SoftLink("/x") if kind == "soft" else h5py.ExternalLink(str(outside), "/secret")
    _edit(distilled, lambda f: f.__setitem__("scale", link))
    line = _refused(["info", distilled], tmp_path, f"/scale is {'a soft' if kind == 'soft' else 'an external'} link")
    assert str(distilled) in line


def test_a_dataset_of_the_wrong_dtype_is_refused(distilled, tmp_path):
    _edit(distilled, lambda f: f.create_dataset("scale", data=[b"text"]))
    _refused(["info", distilled], tmp_path, "/scale has dtype")


def test_a_counts_shape_against_num_classes_is_checked_before_reading(distilled, tmp_path):
    def grow(f):
        del f["counts"]
        _bomb(f, "counts", shape=(2**20,), dtype="i8", chunks=(2**10,))
    _refused(["info", _edit(distilled, grow)], tmp_path, "num_classes is 4")


def test_the_bound_can_be_raised_and_lowered(distilled, tmp_path, monkeypatch):
    assert max_read_bytes() == DEFAULT_MAX_READ_BYTES == 4 * 2**30
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "100")
    _refused(["info", distilled], tmp_path, "read limit of 100 B")
    monkeypatch.setenv(MAX_READ_BYTES_ENV, str(2**20))
    assert CliRunner().invoke(app, ["info", str(distilled)]).exit_code == 0
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "lots")
    _refused(["info", distilled], tmp_path, f"{MAX_READ_BYTES_ENV}='lots' is not a positive number")


# --- data-set files ------------------------------------------------------------------------------

def test_a_data_set_whose_rsrp_declares_64_gib_is_refused(tiny_dataset, tmp_path):
    data = shutil.copy(tiny_dataset, tmp_path / "data.h5")

    def bomb(f):
        del f["rsrp"]
        _bomb(f, "rsrp", shape=(2**24, 32, 32), dtype="f4", chunks=(64, 32, 32))
    _edit(Path(data), bomb)
    line = _refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, MAX_READ_BYTES_ENV)
    assert "/rsrp alone 64.0 GiB" in line
    _refused(["evaluate", "--train", data], tmp_path, "/rsrp alone 64.0 GiB")


@pytest.mark.parametrize("change", ["foreign", "soft", "rows"])
def test_a_data_set_with_foreign_linked_or_mismatched_arrays_is_refused(tiny_dataset, tmp_path, change):
    data = Path(shutil.copy(tiny_dataset, tmp_path / "data.h5"))

    def edit(f):
        if change == "foreign":
            f["notes"] = [1, 2, 3]
        elif change == "soft":
            del f["los"]
            f["los"] = h5py.SoftLink("/mask")
        else:
            del f["los"]
            f.create_dataset("los", shape=(5,), dtype=bool)
    _edit(data, edit)
    needle = {"foreign": "/notes is not part of", "soft": "/los is a soft link", "rows": "one sample count"}[change]
    _refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, needle)


# --- checkpoints and expert caches ---------------------------------------------------------------

class _Payload:
    """Unpickled without ``weights_only``, creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _code_running_pickle(path: Path, marker: Path) -> Path:
    torch.save({"fingerprint": "x", "iteration": 1, "syn": _Payload(marker)}, path)
    return path


def test_the_pickle_payload_is_real(tmp_path):
    marker = tmp_path / "proof"
    torch.load(_code_running_pickle(tmp_path / "p.pt", marker), weights_only=False)
    assert marker.exists()  # so the refusals below are of a pickle that would run code


@pytest.mark.parametrize("content", ["pickle", "corrupt", "not-a-dict"])
def test_a_hostile_checkpoint_is_one_line_and_runs_no_code(tiny_dataset, tiny_config, tmp_path, content):
    out, marker = tmp_path / "out.h5", tmp_path / "ran"
    ckpt = tmp_path / "out.h5.ckpt.pt"
    if content == "pickle":
        _code_running_pickle(ckpt, marker)
    elif content == "corrupt":
        ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    else:
        torch.save([1, 2, 3], ckpt)
    line = _refused(["distill", "--data", tiny_dataset, "--out", out, "--config", tiny_config, "--resume"],
                    tmp_path, f"checkpoint {ckpt}")
    assert "delete it or run without --resume" in line
    assert not marker.exists() and not out.exists()


def test_a_code_running_expert_cache_runs_no_code_and_is_retrained(tmp_path):
    from beamsim.distill.experts import _load_cached

    marker = tmp_path / "ran"
    cache = _code_running_pickle(tmp_path / "expert.pt", marker)
    assert _load_cached(cache, "key", (2, 3)) is None
    assert not marker.exists()


# --- MemoryError anywhere --------------------------------------------------------------------------

def test_memory_error_is_one_line_naming_the_bound_and_debug_keeps_the_traceback():
    group = typer.Typer(cls=ErrorMappingGroup)

    @group.callback()
    def _root() -> None:
        pass

    @group.command("boom")
    def boom() -> None:
        raise MemoryError("Unable to allocate 128. GiB")

    result = CliRunner().invoke(group, ["boom"])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("beamsim: error: out of memory") and MAX_READ_BYTES_ENV in lines[0]
    assert "128. GiB" in lines[0]
    os.environ["BEAMSIM_DEBUG"] = "1"
    try:
        assert isinstance(CliRunner().invoke(group, ["boom"]).exception, MemoryError)
    finally:
        del os.environ["BEAMSIM_DEBUG"]


# --- peak memory of the bombs, in a real process ---------------------------------------------------

@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_the_bombs_peak_memory_stays_far_below_what_they_declare(distilled, tmp_path, capsys):
    _edit(distilled, _bomb)
    # VmHWM: this process's own peak RSS (ru_maxrss of a forked child can carry the parent's)
    code = ("import re, sys\nfrom pathlib import Path\nfrom beamsim.cli.main import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1)\n"
            "print(peak, code, file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code, "info", str(distilled)], capture_output=True, text=True,
                         timeout=300)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("beamsim: error:"), run.stderr
    peak_kib, exit_code = lines[1].split()
    assert exit_code == "1"
    with capsys.disabled():
        print(f"\npeak RSS of `beamsim info` on a 128 GiB bomb: {int(peak_kib) / 1024:.0f} MiB")
    assert int(peak_kib) * 1024 < DEFAULT_MAX_READ_BYTES  # declared: 128 GiB

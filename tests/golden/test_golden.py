"""Same seed, same bytes: the files a fixed set of commands writes, against recorded SHA-256s.

Each command runs through the CLI (typer's ``CliRunner``) in a temporary folder with relative
paths, one torch thread and a fixed seed; each file it writes is hashed. Distilled and
compressed files are hashed byte for byte. Data-set files carry a creation time and study
records carry wall times, so for those the digest is of their content without those fields
(:func:`content_digest`: every array's name, dtype, shape and bytes, every other attribute).

Change ``GOLDEN`` only with a reason in the commit message: a refactor must leave it alone.
``BEAMSIM_GOLDEN_PRINT=1 pytest tests/golden -s`` prints the digests of the current code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from beamsim.cli.main import app

#: Tiny distillation settings (every objective finishes in about a second). A copy of the CLI
#: tests' on purpose: the golden commands' inputs stay fixed when those tests change theirs.
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

_D = ["distill", "--data", "data/umi.h5", "--config", "tiny.toml", "--cache-dir", "experts", "--spc", "2"]

#: (name, command, files it writes). Order matters: later commands read earlier outputs.
COMMANDS: list[tuple[str, list[str], list[str]]] = [
    ("generate-umi", ["generate", "--scenario", "umi", "--samples", "256", "--out", "data/umi.h5"], ["data/umi.h5"]),
    ("generate-uma", ["generate", "--scenario", "uma", "--samples", "64", "--out", "data/uma.h5"], ["data/uma.h5"]),
    ("generate-rma", ["generate", "--scenario", "rma", "--samples", "64", "--out", "data/rma.h5"], ["data/rma.h5"]),
    ("generate-street-canyon", ["generate", "--scenario", "street-canyon", "--samples", "32", "--out",
                                "data/street-canyon.h5"], ["data/street-canyon.h5"]),
    ("distill-tm-apot", [*_D, "--objective", "tm", "--quantizer", "apot", "--bits", "6", "--out", "d/tm-apot6.h5"],
     ["d/tm-apot6.h5"]),
    ("distill-tm-uniform", [*_D, "--objective", "tm", "--quantizer", "uniform", "--bits", "4", "--out",
                            "d/tm-uniform4.h5"], ["d/tm-uniform4.h5"]),
    ("distill-dm-fsq", [*_D, "--objective", "dm", "--quantizer", "fsq", "--bits", "4", "--out", "d/dm-fsq4.h5"],
     ["d/dm-fsq4.h5"]),
    ("distill-dm-ptq", [*_D, "--objective", "dm", "--quantizer", "ptq", "--bits", "6", "--out", "d/dm-ptq6.h5"],
     ["d/dm-ptq6.h5"]),
    ("distill-dc-apot", [*_D, "--objective", "dc", "--quantizer", "apot", "--bits", "3", "--out", "d/dc-apot3.h5"],
     ["d/dc-apot3.h5"]),
    ("distill-dc-none", [*_D, "--objective", "dc", "--quantizer", "none", "--out", "d/dc-f32.h5"], ["d/dc-f32.h5"]),
    ("distill-tm-none", [*_D, "--objective", "tm", "--quantizer", "none", "--encoding", "relative", "--out",
                         "d/tm-f32.h5"], ["d/tm-f32.h5"]),
    ("distill-graphcut", [*_D, "--objective", "dm", "--init", "quant-graphcut", "--bits", "4", "--out",
                          "d/dm-graphcut4.h5"], ["d/dm-graphcut4.h5"]),
    ("coreset-kcenter", [*_D, "--objective", "none", "--init", "kcenter", "--quantizer", "ptq", "--bits", "8",
                         "--out", "d/kcenter-ptq8.h5"], ["d/kcenter-ptq8.h5"]),
    ("compress-coder", ["compress", "d/dc-f32.h5", "--bits", "4", "--out", "d/dc-f32-rc.h5"], ["d/dc-f32-rc.h5"]),
    ("compress-plain", ["compress", "d/tm-apot6.h5", "--bits", "2", "--groups", "4", "--no-entropy", "--no-extra",
                        "--out", "d/tm-apot6-paq2.h5"], ["d/tm-apot6-paq2.h5"]),
    ("distill-digits", ["distill", "--dataset", "digits", "--config", "tiny.toml", "--cache-dir", "experts", "--ipc",
                        "1", "--out", "d/digits.h5"], ["d/digits.h5"]),
    ("study-point", ["study", "baselines", "--data", "data/umi.h5", "--methods", "random,distill-ptq", "--spc", "2",
                     "--bits", "4", "--objective", "dm", "--config", "tiny.toml", "--cache-dir", "experts", "--runs",
                     "1", "--epochs", "2", "--out", "study"], ["study/baselines.csv"]),
]

#: Record fields that change from run to run (wall times, dates, the device's name).
VOLATILE = {"created", "seconds", "seconds_per_run", "wall_s", "timings_s", "device", "cached", "reused_file"}

#: Commands that need Sionna RT (a CUDA device or LLVM >= 16); their files are skipped without it.
RT_COMMANDS = {"generate-street-canyon"}

GOLDEN: dict[str, str] = {
    "data/umi.h5": "c444efad41097e50809a70142d552cc146bda6de162a11b7dd5511eb08a745b8",
    "data/uma.h5": "46424f833fc99abe454193638e37548e29a1d7fbd12f4703844d403994ac1602",
    "data/rma.h5": "a82413cc9af2378a863b91c6c0fee45ecb2204b52ad6adc3b30316867b0f9d0d",
    "data/street-canyon.h5": "c302f3bf499abbafe845946b9ee433c7f7d3b494655fef14d7791e44998d8620",
    "d/tm-apot6.h5": "4e91ba0d4bc5f4527726acb4fcab48268e1425d21505c02de1c8abc47025cf2b",
    "d/tm-uniform4.h5": "a38b2a1ba83458f51b2bacf94eedbbd8c6276dcdcd71197b4bfc33fea168f76c",
    "d/dm-fsq4.h5": "26caff315b21643a18c34f5e5cdad4a9af0b6757392dc43d06b5d62858e48e40",
    "d/dm-ptq6.h5": "18d6b7b629fbcb139219ec479b1197ba8e836691a8a561f2bb312866aca003dd",
    "d/dc-apot3.h5": "1755f586b8757af1661d420c532b89f4c041c73852b58027cb19426433b6b665",
    "d/dc-f32.h5": "a84117070ab35c1f60985cf651705ff606010ef38cd67bf0dcbbdfb502c6a637",
    "d/tm-f32.h5": "904c89eba223012c234cdfa140c103726f477b02f04c9cbad83031994ee7186e",
    "d/dm-graphcut4.h5": "bcaa757cac591d03ef9f91bb741ed43025a12fdeeade97e54ada7caff035365c",
    "d/kcenter-ptq8.h5": "19c59fd2c6d7993fc616f4b4d90906ed24fb6f66ebcf439f245fcdb7b73c48b4",
    "d/dc-f32-rc.h5": "9bd97e3c06027b6ed68f6d792c2322e062ad6ff9dc249812e26aedcff2cbf7aa",
    "d/tm-apot6-paq2.h5": "faae0cb9a599f5fd756a6e15abfdb9835d01191ba22d1c8fdedba8b1de93d4b7",
    "d/digits.h5": "f8b737218efbedb922bb81f5387c1c2063d8dd78dfedbdbf52be6e0db03599f5",
    "study/baselines.csv": "d7fcabb422d937ba7a67cc26d7a5f1563d2d70a425e27dfb22ba014804467712",
    "study/points/distill-ptq-871f3ba3c2bf.json": "4e2b0924a20f832e3d706d456a4339cfce3c9687f982fef07a7a953fca3ea810",
    "study/points/random-22aa0a8d6929.json": "856e1d720ea1169d3737da0e13a54ec2f31a823a9aa694b80bf2cf499c339b9f",
    "study/points/dm-f32-spc2-real-b6ff8406eee8.h5": "4c26ae53fa03607f76c5e5a0a784aafa742572c002d9b3b4a77a349da8c65ade",
    "study/points/dm-f32-spc2-real-ptq4-c7fb27394631.h5": "2ac7d8c27c1d8ecf56553a19b62ad675f689ea46a4d8a7e61af6c0ecab24f052",
    "study/points/none-f32-spc2-real-b731b6df64d9.h5": "764d541b9e083827ff9a48e20d9f247962d1fbe3e3bd1681cef9ec822ea46cbe",
}


def _rt_usable() -> bool:
    from beamsim.errors import BackendUnavailableError
    from beamsim.simulation.llvm import import_sionna_rt

    try:
        import_sionna_rt()
    except BackendUnavailableError:
        return False
    return True


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def content_digest(path: Path) -> str:
    """sha256 of a data-set file's arrays and attributes without ``created``, or of a record
    (JSON, CSV) without its wall times."""
    digest = hashlib.sha256()
    if path.suffix == ".h5":
        with h5py.File(path, "r") as f:
            for key, value in f.attrs.items():
                if key != "created":
                    digest.update(f"{key}={np.asarray(value).tolist()!r};".encode())

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    value = obj[()]
                    digest.update(f"{name}:{value.dtype.str}:{list(value.shape)};".encode())
                    digest.update(np.ascontiguousarray(value).tobytes())

            f.visititems(visit)
    elif path.suffix == ".json":
        digest.update(json.dumps(_strip(json.loads(path.read_text())), sort_keys=True).encode())
    else:  # CSV: the columns that are not wall times
        import csv

        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        digest.update(json.dumps([_strip(r) for r in rows], sort_keys=True).encode())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    if path.suffix == ".h5":
        with h5py.File(path, "r") as f:
            if str(f.attrs.get("format", "")) == "beamsim.dataset":
                return content_digest(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return content_digest(path)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, str]:
    """Run every command once; file -> digest."""
    folder = tmp_path_factory.mktemp("golden")
    (folder / "tiny.toml").write_text(TINY)
    threads = torch.get_num_threads()
    cwd = os.getcwd()
    torch.set_num_threads(1)
    os.chdir(folder)
    digests: dict[str, str] = {}
    try:
        runner = CliRunner()
        for name, args, files in COMMANDS:
            if name in RT_COMMANDS and not _rt_usable():
                continue
            result = runner.invoke(app, [*args, "--seed", "3", "--device", "cpu", "--json"])
            assert result.exit_code == 0, f"{name}: {result.output}"
            for file in files:
                digests[file] = file_digest(folder / file)
        points = sorted((folder / "study" / "points").glob("*.json"))
        assert len(points) == 2, points
        for point in points:
            digests[f"study/points/{point.name}"] = content_digest(point)
        for point in sorted((folder / "study" / "points").glob("*.h5")):
            digests[f"study/points/{point.name}"] = file_digest(point)
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    if os.environ.get("BEAMSIM_GOLDEN_PRINT"):
        print("GOLDEN = {")
        for key, value in digests.items():
            print(f'    "{key}": "{value}",')
        print("}")
    return digests


@pytest.mark.slow
@pytest.mark.parametrize("file", list(GOLDEN) or ["<none recorded>"])
def test_same_seed_same_bytes(written, file):
    rt_files = {f for name, _, files in COMMANDS if name in RT_COMMANDS for f in files}
    if file in rt_files and not _rt_usable():
        pytest.skip("Sionna RT unavailable (no CUDA, no LLVM >= 16)")
    assert set(written) | rt_files == set(GOLDEN) | rt_files, "the commands wrote other files than the recorded ones"
    assert written[file] == GOLDEN[file], f"{file} changed: same seed must give the same bytes"

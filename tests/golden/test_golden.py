"""Same seed, same bytes: the files a fixed set of commands writes, against recorded SHA-256s.

Each command runs through the CLI (typer's ``CliRunner``) in a temporary folder with relative
paths, one thread and a fixed seed; each file it writes is hashed. Distilled and compressed
files are hashed byte for byte. Data-set files carry a creation time and study records carry
wall times, so for those the digest is of their content without those fields
(:func:`content_digest`: every array's name, dtype, shape and bytes, every other attribute).

The commands run in one child process whose numeric code paths are pinned (:data:`PINNED_ENV`,
:func:`pin_drjit_llvm`): MKL in its AVX2 reproducibility mode, ATen's and oneDNN's kernels capped
at AVX2, Dr.Jit's LLVM back-end compiling for an AVX2 CPU with 8 lanes. Unpinned, the last bits
of a float depend on the CPU that runs them (MKL, ATen and Dr.Jit all pick AVX-512 code where
they can), and so would every digest. The package versions are pinned by ``constraints.txt``,
which ``make`` installs with: a new release of a dependency moves last bits too.

Change ``GOLDEN`` only with a reason in the commit message: a refactor must leave it alone.
``BEAMSIM_GOLDEN_PRINT=1 pytest tests/golden -s`` prints the digests of the current code.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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
    # BM-Case1 (format version 2), added after the redesign: BS-side wide Set B and Tx-Rx pairs.
    ("generate-umi-bs-wide", ["generate", "--scenario", "umi-bs-wide", "--samples", "64", "--out",
                              "data/umi-bs-wide.h5"], ["data/umi-bs-wide.h5"]),
    ("generate-umi-pair", ["generate", "--scenario", "umi-pair", "--samples", "64", "--out", "data/umi-pair.h5"],
     ["data/umi-pair.h5"]),
]

#: Record fields that change from run to run (wall times, dates, the device's name).
VOLATILE = {"created", "seconds", "seconds_per_run", "wall_s", "timings_s", "device", "cached", "reused_file"}

#: Commands that need Sionna RT (a CUDA device or LLVM >= 16); their files are skipped without it.
RT_COMMANDS = {"generate-street-canyon"}

GOLDEN: dict[str, str] = {
    "data/umi.h5": "1cb6a88b16a0c869e32774bc51e3040a046a66a47e1826326d3b2ee8d59f94c2",
    "data/uma.h5": "bf33ca476b0e47397bea1ac3ca0d86c28589fc6c051958845864dbc55582188a",
    "data/rma.h5": "6e1ef1bf4c12a354af34e0e71e2c40fbe8c08c7aa2d4941109698555d09dd65c",
    "data/street-canyon.h5": "a5e91c5b86303db3e03edc757b912a87fe3d342e61053f09c3ca00965116487e",
    "d/tm-apot6.h5": "878d7d400b9b486adad5d01a7c3a2c996b6201fd50810d43729c391397c250fb",
    "d/tm-uniform4.h5": "a371cf8662763c77021303b3c3c6c55e1919fc90cd687af8dc28862d86190bf7",
    "d/dm-fsq4.h5": "6d262f243bafbe4642939718798f4db874247fb33382f2b50ac590ceae7cf2f2",
    "d/dm-ptq6.h5": "f37f3d2c6d2821deb8466e175f5e319d31fe22424aad17126563482b3a102286",
    "d/dc-apot3.h5": "e9e7869763da6c69f894334b439a5e05c9a79e069192742806b2b0b95e0ca659",
    "d/dc-f32.h5": "f856b0ea2576fde7354e3aa7b46365657fa2ddd562f723d4f1530edfa2b0c473",
    "d/tm-f32.h5": "9958cb1b1baff87bc80f6486bb861a0d3357428631ea331b59a6517627d55914",
    "d/dm-graphcut4.h5": "b4d52c6d75414cde3801eba8a1099a07b1badc0d31e16e5abe83ca561d909926",
    "d/kcenter-ptq8.h5": "6c4552d61010dce349969dcdd36ac6a1dc00d208712b10c6cc589b27f57379dc",
    "d/dc-f32-rc.h5": "647a473f36a23bdb9c60fdfbb507fe65881631d91667c837d8d1d4c448b7593c",
    "d/tm-apot6-paq2.h5": "1bfd98a4361ad476ae3030b3e7f119dea70671e5f8c2c2e3310d3b2c3c27f99d",
    "d/digits.h5": "f8b737218efbedb922bb81f5387c1c2063d8dd78dfedbdbf52be6e0db03599f5",
    "study/baselines.csv": "3d82baa3fa4428bfd8e24a52bbe986879857ded36f1c6aac658f1384feb69134",
    "data/umi-bs-wide.h5": "4dc226545b7cb05638d2270ae4c6c81dac1e27dfe7fabff1be042dab9328bf29",
    "data/umi-pair.h5": "c288e7c89615443a32781ecca8f63a66dd8311017cd86d345d85e8339b4770dc",
    "study/points/distill-ptq-ac1939d0978c.json": "f8e89ca98a9f43303535d8a14ec22ac3d3a22db609fe033d93ec449e3c3fdf13",
    "study/points/random-e1926279d243.json": "e0b19ea007ad6bd17b59e7121f2ac43df566f15316f71bbc1be45e80d7e4a80b",
    "study/points/dm-f32-spc2-herding-prop-357c9264b0c8.h5": "06ca699c8ed7e4b1c6b9e5fd4fb90260ecebf9eb6340c785672aa40d8d9d7e4e",
    "study/points/dm-f32-spc2-herding-prop-ptq4-4868ad33bc3c.h5": "3593f5804c2b2cfd3ac09f580ce05c73f64e2a4505ba7778e3d8bad703df902b",
    "study/points/none-f32-spc2-real-prop-b2efe4b1d0a7.h5": "4387a837980e5a3b2fbf869f8fdf06c5200a8706f7dca95ba1d3cae304d4424d",
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


#: The environment of the child that runs the commands: numeric code paths that are the same on
#: every x86-64 CPU with AVX2 (Intel's or AMD's), one thread, and a Dr.Jit kernel cache of its own.
PINNED_ENV = {
    "MKL_CBWR": "AVX2",              # MKL's conditional numerical reproducibility, AVX2 code path
    "ATEN_CPU_CAPABILITY": "avx2",   # PyTorch's vectorized CPU kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",     # oneDNN (convolutions)
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

#: Dr.Jit's LLVM target in the child: an AVX2 CPU, 8 lanes (on an AVX-512 host it picks 16).
DRJIT_TARGET = (b"haswell", b"+avx,+avx2,+fma,+f16c,+sse4.2,+popcnt,+bmi,+bmi2,+lzcnt,+movbe", 8)


def pin_drjit_llvm() -> None:
    """Make Dr.Jit's LLVM back-end compile for :data:`DRJIT_TARGET` (no-op without Sionna RT).

    Dr.Jit has no Python call for this; its core library exports ``jit_llvm_set_target`` (a C++
    symbol of drjit-core, the version ``constraints.txt`` pins), which this calls after the
    back-end has started. Raises when the symbol is missing, so a digest is never taken unpinned.
    """
    import ctypes

    from beamsim.errors import BackendUnavailableError
    from beamsim.simulation.llvm import import_sionna_rt

    try:
        import_sionna_rt()
    except BackendUnavailableError:
        return
    import drjit

    core = ctypes.CDLL(str(Path(drjit.__file__).parent / "libdrjit-core.so"))
    set_target = core._Z19jit_llvm_set_targetPKcS0_j
    set_target.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32]
    set_target.restype = None
    set_target(*DRJIT_TARGET)
    width = core._Z21jit_llvm_vector_widthv
    width.restype = ctypes.c_uint32
    if width() != DRJIT_TARGET[2]:
        raise RuntimeError(f"Dr.Jit kept {width()} lanes after jit_llvm_set_target")


def run_commands(folder: Path) -> dict[str, str]:
    """Run every command in ``folder`` (in this process, as it is); file -> digest."""
    (folder / "tiny.toml").write_text(TINY)
    torch.set_num_threads(1)
    os.chdir(folder)
    digests: dict[str, str] = {}
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
    return digests


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, str]:
    """Run every command once, in a child with :data:`PINNED_ENV`; file -> digest."""
    folder = tmp_path_factory.mktemp("golden")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, **PINNED_ENV, "DRJIT_CACHE_DIR": str(folder / ".drjit"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    child = subprocess.run([sys.executable, "-m", "tests.golden.test_golden", str(folder)], cwd=root, env=env,
                           capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-4000:]
    digests = json.loads(child.stdout.strip().splitlines()[-1])
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


if __name__ == "__main__":  # the child of ``written``: python -m tests.golden.test_golden FOLDER
    pin_drjit_llvm()
    print(json.dumps(run_commands(Path(sys.argv[1]))))

"""Finding a libLLVM that Dr.Jit can run Sionna RT with (>= 16), and the error when there is none."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from beamsim.errors import BackendUnavailableError
from beamsim.simulation import llvm
from beamsim.simulation.llvm import (LLVM_ENV_VAR, ensure_drjit_llvm, find_libllvm, llvm_version_from_path,
                                     require_drjit_llvm)

_HOST_MACHINE = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}.get(platform.machine().lower(), 62)


def fake_lib(path: Path, machine: int = _HOST_MACHINE) -> Path:
    """A file that starts like an ELF shared library for ``machine`` (little-endian, 64 bit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little")
    path.write_bytes(header + bytes(44))
    return path


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    """Every test starts without DRJIT_LIBLLVM_PATH; monkeypatch restores it afterwards.

    setenv first, so that monkeypatch records the original state even when the variable was
    unset: a value a test's ensure_drjit_llvm() writes must not leak into later tests.
    """
    monkeypatch.setenv(LLVM_ENV_VAR, "")
    monkeypatch.delenv(LLVM_ENV_VAR)


@pytest.mark.parametrize("name,version", [
    ("libLLVM-19.so", (19,)),
    ("libLLVM.so.19.1", (19, 1)),
    ("libLLVM-15.so.1", (15,)),
    ("libLLVM-14.0.6.so.1", (14, 0, 6)),
    ("libLLVM.so.18.1-rc3", (18, 1)),
    ("libLLVM-17git.so", (17,)),
    ("libLLVM-19.dylib", (19,)),
    ("libLLVM.so", None),
    ("libLLVMSupport.so", None),
    ("libLLVMAArch64CodeGen.a", None),
    ("libclang-cpp.so.14", None),
])
def test_versions_are_read_from_file_names(name, version):
    assert llvm_version_from_path(f"/somewhere/{name}") == version


def test_unversioned_names_use_the_link_target_or_the_folder(tmp_path):
    target = fake_lib(tmp_path / "lib" / "libLLVM-14.so.1")
    (tmp_path / "lib" / "libLLVM.so").symlink_to(target.name)
    assert llvm_version_from_path(tmp_path / "lib" / "libLLVM.so") == (14,)
    assert llvm_version_from_path(tmp_path / "llvm-18" / "lib" / "libLLVM.so") == (18,)
    assert llvm_version_from_path(tmp_path / "Cellar" / "llvm" / "19.1.7" / "lib" / "libLLVM.dylib") == (19, 1, 7)


def test_the_newest_usable_library_wins(tmp_path):
    lib = tmp_path / "lib"
    for name in ["libLLVM-14.so.1", "libLLVM-15.so.1", "libLLVM-17.so"]:
        fake_lib(lib / name)
    real19 = fake_lib(lib / "libLLVM.so.19.1")
    (lib / "libLLVM-19.so").symlink_to(real19.name)
    fake_lib(lib / "libLLVM-21.so", machine=_HOST_MACHINE + 1)   # built for another machine
    (lib / "libLLVM-22.so").symlink_to("does-not-exist.so")        # dangling link
    (lib / "libLLVM-23.so").write_text("not a library")            # not a shared library
    fake_lib(tmp_path / "llvm-18" / "lib" / "libLLVM.so")           # version only in the folder name
    found = find_libllvm([lib, tmp_path / "llvm-*" / "lib"])
    assert found is not None and found.resolve() == real19.resolve()
    assert find_libllvm([tmp_path / "llvm-*" / "lib"]).parent.parent.name == "llvm-18"


def test_llvm_14_and_15_are_never_chosen(tmp_path):
    for name in ["libLLVM-14.so.1", "libLLVM-15.so.1", "libLLVM-15.so"]:
        fake_lib(tmp_path / name)
    assert find_libllvm([tmp_path]) is None
    assert ensure_drjit_llvm([tmp_path]) is None
    assert LLVM_ENV_VAR not in os.environ


def test_ensure_sets_the_variable_when_unset(tmp_path):
    lib = fake_lib(tmp_path / "libLLVM-19.so")
    assert ensure_drjit_llvm([tmp_path]) == str(lib)
    assert os.environ[LLVM_ENV_VAR] == str(lib)


def test_an_existing_setting_is_respected(tmp_path, monkeypatch):
    fake_lib(tmp_path / "libLLVM-20.so")
    mine = fake_lib(tmp_path / "mine" / "libLLVM-17.so")
    monkeypatch.setenv(LLVM_ENV_VAR, str(mine))
    assert ensure_drjit_llvm([tmp_path]) == str(mine)
    assert os.environ[LLVM_ENV_VAR] == str(mine)


@pytest.mark.parametrize("name,match", [("libLLVM-15.so.1", "is LLVM 15, which aborts"),
                                        ("missing/libLLVM-19.so", "does not exist")])
def test_an_unusable_setting_is_a_clear_error(tmp_path, monkeypatch, name, match):
    path = tmp_path / name
    if not name.startswith("missing"):
        fake_lib(path)
    monkeypatch.setenv(LLVM_ENV_VAR, str(path))
    with pytest.raises(BackendUnavailableError, match=match):
        ensure_drjit_llvm([tmp_path])


def test_no_usable_llvm_says_what_to_install(tmp_path):
    fake_lib(tmp_path / "libLLVM-15.so.1")
    with pytest.raises(BackendUnavailableError) as info:
        require_drjit_llvm([tmp_path])
    message = str(info.value)
    assert "\n" not in message
    assert "LLVM >= 16" in message and "apt-get install libllvm19" in message and LLVM_ENV_VAR in message


def test_import_fails_cleanly_without_llvm_and_cuda():
    """In a fresh process with nothing usable: one clear error, and Dr.Jit is never loaded."""
    code = "\n".join([
        "import os, sys",
        "os.environ.pop('DRJIT_LIBLLVM_PATH', None)",
        "import beamsim.simulation.llvm as llvm",
        "import beamsim.simulation.backends.rt",
        "assert 'drjit' not in sys.modules and 'sionna.rt' not in sys.modules",
        "llvm.LLVM_SEARCH_DIRS = ()",
        "llvm._cuda_present = lambda: False",
        "from beamsim.errors import BackendUnavailableError",
        "try:",
        "    llvm.import_sionna_rt()",
        "except BackendUnavailableError as exc:",
        "    print('ERROR', exc)",
        "assert 'drjit' not in sys.modules",
    ])
    env = {k: v for k, v in os.environ.items() if k != LLVM_ENV_VAR}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "ERROR Sionna RT on the CPU needs LLVM >= 16" in done.stdout


def test_the_default_search_covers_the_usual_places():
    dirs = " ".join(llvm.LLVM_SEARCH_DIRS)
    for where in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/llvm-*/lib", "/usr/local/lib",
                  "/opt/homebrew/opt/llvm/lib"]:
        assert where in dirs

"""beamsim.fileio: atomic writes leave no temporary file, and those of killed runs are removed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from beamsim.fileio import _host, atomic_path, remove_stale_temporaries


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_an_exception_inside_the_block_leaves_no_file(tmp_path):
    out = tmp_path / "d.h5"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(out, suffix=".h5.tmp") as tmp:
            tmp.write_bytes(b"partial")
            assert tmp.name.startswith(f".d.h5.{os.getpid()}@{_host()}.") and tmp.name.endswith(".h5.tmp")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_killed_runs_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "d.h5"
    stale = tmp_path / f".d.h5.{dead_pid()}@{_host()}.abc_123.h5.tmp"
    live = tmp_path / f".d.h5.{os.getppid()}@{_host()}.abc_123.h5.tmp"  # the test runner's parent runs
    elsewhere = tmp_path / f".d.h5.{dead_pid()}@another-host.abc_123.h5.tmp"  # a shared folder: not ours to judge
    other_output = tmp_path / f".d.h5.ckpt.pt.{dead_pid()}@{_host()}.abc_123.pt.tmp"  # another output's
    for path in (stale, live, elsewhere, other_output):
        path.write_bytes(b"partial")
    with atomic_path(out, suffix=".h5.tmp") as tmp:
        tmp.write_bytes(b"whole")
    assert out.read_bytes() == b"whole"
    assert not stale.exists() and live.exists() and elsewhere.exists() and other_output.exists()
    assert remove_stale_temporaries(tmp_path / "d.h5.ckpt.pt", suffix=".pt.tmp") == [other_output]

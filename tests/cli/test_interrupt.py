"""Real `beamsim distill` processes stopped by signals, and two runs writing one --out at once.

SIGTERM gives exit code 143, one line and no output nor temporary file; SIGKILL leaves at most
one temporary file, which the next run removes; ``--resume`` then writes the same bytes as an
uninterrupted run. Every wait is bounded and every child is killed on the way out.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from tests.tiny import TINY

BEAMSIM = Path(sys.executable).with_name("beamsim")
#: Enough iterations (each one checkpointed) that a kill lands in the middle of the loop.
ITERATIONS = 12  # the stop comes after 1-3 checkpoints: the rest is margin for a slow poll
WAIT_S = 120


def command(*args) -> list[str]:
    start = [str(BEAMSIM)] if BEAMSIM.exists() else [sys.executable, "-m", "beamsim.cli.main"]
    return [*start, *map(str, args)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Hidden files in ``folder``: temporary files of atomic writes."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@contextlib.contextmanager
def started(args: list, log: Path):
    """A beamsim child process writing stdout and stderr to ``log``; killed if still running."""
    with log.open("w") as sink:
        child = subprocess.Popen(command(*args), stdout=subprocess.DEVNULL, stderr=sink)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=WAIT_S)


def finish(args: list, log: Path) -> int:
    with started(args, log) as child:
        return child.wait(timeout=WAIT_S)


@pytest.fixture(scope="module")
def distill_args(tmp_path_factory, tiny_dataset):
    folder = tmp_path_factory.mktemp("interrupt")
    config = folder / "tiny.toml"
    config.write_text(TINY.replace("iterations = 2", f"iterations = {ITERATIONS}"))
    return ["distill", "--data", tiny_dataset, "--spc", 1, "--bits", 4, "--objective", "dm", "--config", config,
            "--cache-dir", folder / "cache"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory, distill_args) -> str:
    """SHA-256 of the uninterrupted run's output."""
    folder = tmp_path_factory.mktemp("whole")
    assert finish([*distill_args, "--out", folder / "d.h5"], folder / "log") == 0, (folder / "log").read_text()
    return sha256(folder / "d.h5")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_distill_resumes_to_the_same_bytes(tmp_path, distill_args, whole, sig):
    out, checkpoint, log = tmp_path / "d.h5", tmp_path / "d.h5.ckpt.pt", tmp_path / "log"
    wanted = random.Random().randint(1, 3)  # stop after this many checkpoints: a random iteration
    with started([*distill_args, "--out", out], log) as child:
        seen: set[tuple[int, int]] = set()  # each checkpoint is a new file (written aside, renamed)
        deadline = time.monotonic() + WAIT_S
        while len(seen) < wanted and child.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                stat = checkpoint.stat()
                seen.add((stat.st_ino, stat.st_mtime_ns))
            time.sleep(0.005)
        assert len(seen) >= wanted, f"{len(seen)} checkpoints within {WAIT_S} s: {log.read_text()}"
        child.send_signal(sig)
        code = child.wait(timeout=WAIT_S)
    note = f"stopped after {len(seen)} checkpoints; stderr: {log.read_text()}"
    assert not out.exists() and checkpoint.exists(), note
    if sig == signal.SIGTERM:
        assert code == 143, note
        assert log.read_text().splitlines()[-1] == "beamsim: terminated (SIGTERM); no partial output was written"
        assert leftovers(tmp_path) == [], note
    else:
        assert code == -signal.SIGKILL, note
        assert len(leftovers(tmp_path)) <= 1, note  # the checkpoint's temporary file, when it was being written

    assert finish([*distill_args, "--out", out, "--resume"], log) == 0, log.read_text()
    assert sha256(out) == whole, note
    assert leftovers(tmp_path) == [] and not checkpoint.exists(), note  # a killed run's temporary file is removed


def test_two_runs_writing_one_out_leave_one_whole_file(tmp_path, tiny_dataset, tiny_config):
    """Each run writes its own temporary file and renames it: the last rename wins, never a mix.

    The two share ``d.h5.ckpt.pt`` (seeds 0 and 1): each checkpoint is written atomically and
    carries its run's fingerprint, so the worst case is a resume refused as "other settings".
    """
    out = tmp_path / "d.h5"
    args = ["distill", "--data", tiny_dataset, "--spc", 1, "--bits", 4, "--objective", "dm", "--config", tiny_config,
            "--cache-dir", tmp_path / "cache", "--out", out]
    with started([*args, "--seed", 0], tmp_path / "log0") as first, \
            started([*args, "--seed", 1], tmp_path / "log1") as second:
        codes = first.wait(timeout=WAIT_S), second.wait(timeout=WAIT_S)
    assert codes == (0, 0), (tmp_path / "log0").read_text() + (tmp_path / "log1").read_text()
    info = CliRunner().invoke(app, ["info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    assert leftovers(tmp_path) == [] and not (tmp_path / "d.h5.ckpt.pt").exists()

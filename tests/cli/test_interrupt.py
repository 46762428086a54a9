"""Real `beamsim distill` processes stopped by signals, and two runs writing one --out at once.

SIGINT (Ctrl-C) gives exit code 130 and SIGTERM 143, each with one line and no output, no
temporary file and no lock file; SIGKILL leaves at most one temporary file, which the next run
removes, and a lock file, which the next run takes over and removes; ``--resume`` then says
where it continues and writes the same bytes as an uninterrupted run. A second run writing an
--out that a run holds is refused in one line. Every wait is bounded and every child is killed
on the way out.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
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
    """A beamsim child process writing stdout and stderr to ``log``; killed if still running.

    The child starts with SIGINT at its default action, as from a terminal: a test run started
    in the background of a shell (``make test &``) inherits SIGINT ignored, which Python, and
    so beamsim, rightly keeps ignoring."""
    with log.open("w") as sink:
        child = subprocess.Popen(command(*args), stdout=subprocess.DEVNULL, stderr=sink,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
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


#: What the last stderr line says, by the signal that stopped the run.
STOPPED = {signal.SIGTERM: (143, "beamsim: terminated (SIGTERM); no partial output was written"),
           signal.SIGINT: (130, "beamsim: interrupted; no partial output was written")}


def beamsim_lines(log: Path) -> list[str]:
    """The lines of ``log`` that beamsim itself wrote (not the progress bar's)."""
    return [line for line in log.read_text().splitlines() if line.startswith("beamsim: ")]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_stopped_distill_resumes_to_the_same_bytes(tmp_path, distill_args, whole, sig):
    out, checkpoint, log = tmp_path / "d.h5", tmp_path / "d.h5.ckpt.pt", tmp_path / "log"
    lock = tmp_path / "d.h5.lock"
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
    if sig in STOPPED:
        assert (code, beamsim_lines(log)) == (STOPPED[sig][0], [STOPPED[sig][1]]), note
        assert log.read_text().splitlines()[-1] == STOPPED[sig][1], note
        assert leftovers(tmp_path) == [] and not lock.exists(), note
    else:
        assert code == -signal.SIGKILL, note
        assert len(leftovers(tmp_path)) <= 1, note  # the checkpoint's temporary file, when it was being written
        assert lock.exists(), note  # no handler ran; the kernel released the flock, the next run takes it over

    assert finish([*distill_args, "--out", out, "--resume"], log) == 0, log.read_text()
    said = " ".join(log.read_text().split())
    assert re.search(rf"resuming {re.escape(str(checkpoint))} at iteration [1-9][0-9]* of {ITERATIONS}", said), said
    assert sha256(out) == whole, note
    assert leftovers(tmp_path) == [] and not checkpoint.exists(), note  # a killed run's temporary file is removed
    assert not lock.exists(), note


def test_two_runs_writing_one_out_leave_one_whole_file(tmp_path, tiny_dataset, tiny_config):
    """Never a mix: when the runs overlap, the second finds the first's lock and is refused in one
    line (its pid, the fix); when they do not, both write the file, one after the other."""
    out = tmp_path / "d.h5"
    args = ["distill", "--data", tiny_dataset, "--spc", 1, "--bits", 4, "--objective", "dm", "--config", tiny_config,
            "--cache-dir", tmp_path / "cache", "--out", out]
    with started([*args, "--seed", 0], tmp_path / "log0") as first, \
            started([*args, "--seed", 1], tmp_path / "log1") as second:
        codes = first.wait(timeout=WAIT_S), second.wait(timeout=WAIT_S)
        pids = first.pid, second.pid
    logs = [(tmp_path / f"log{i}").read_text() for i in (0, 1)]
    assert sorted(codes) in ([0, 0], [0, 1]), logs
    for i, code in enumerate(codes):
        if code == 1:  # refused: one line, naming the other run
            (line,) = [text for text in logs[i].splitlines() if text.strip()]
            assert line.startswith(f"beamsim: error: {out} is being written by another beamsim run "
                                   f"(pid {pids[1 - i]}"), line
            assert "wait for it to finish, or choose another --out" in line
    info = CliRunner().invoke(app, ["info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    assert leftovers(tmp_path) == [] and not (tmp_path / "d.h5.ckpt.pt").exists()
    assert not (tmp_path / "d.h5.lock").exists()


def test_a_run_is_refused_while_another_holds_the_out_and_takes_over_a_stale_lock(tmp_path, tiny_dataset,
                                                                                  tiny_config):
    from beamsim.distill.runlock import hold_output

    out, lock = tmp_path / "d.h5", tmp_path / "d.h5.lock"
    args = ["distill", "--data", str(tiny_dataset), "--spc", "1", "--objective", "dm", "--config", str(tiny_config),
            "--cache-dir", str(tmp_path / "cache"), "--out", str(out), "--resume"]
    with hold_output(out):  # another open file description: flock refuses it, in this process too
        refused = CliRunner().invoke(app, args)
        assert lock.exists()
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.exit_code == 1 and len(lines) == 1, refused.stderr
    assert f"(pid {os.getpid()} on " in lines[0] and "choose another --out" in lines[0], lines[0]
    assert not out.exists() and not lock.exists() and leftovers(tmp_path) == []

    lock.write_text("999999999@elsewhere\n")  # left by a killed run: nobody holds its flock
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert f"no checkpoint at {out}.ckpt.pt; starting from the beginning" in " ".join(done.stderr.split())
    assert out.exists() and not lock.exists() and leftovers(tmp_path) == []

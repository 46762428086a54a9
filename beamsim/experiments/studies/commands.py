"""The shell commands a study point records: what reproduces its numbers with the CLI.

A point's ``command`` chains the commands that make its training set and the one that
evaluates it: ``beamsim distill ... [&& beamsim compress ...] && beamsim evaluate ...``.
Every source builds its ``beamsim distill`` part with :func:`distill_command` (a test
replays it and compares the bytes of the file it writes with the study's own). Paths are
shell-quoted.

>>> chain("beamsim distill --spc 2", "", "beamsim evaluate --json")
'beamsim distill --spc 2 && beamsim evaluate --json'
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.experiments.studies.settings import StudySettings

__all__ = ["distill_command", "compress_command", "evaluate_command", "chain", "quote"]


def quote(path: str | Path) -> str:
    """``path`` quoted for a POSIX shell.

    >>> quote("runs/my study/a.h5")
    "'runs/my study/a.h5'"
    """
    return shlex.quote(str(path))


def chain(*commands: str) -> str:
    """The non-empty ``commands`` joined with `` && ``."""
    return " && ".join(c for c in commands if c)


def distill_command(settings: StudySettings, cfg: DistillConfig, config_file: Path, out: Path) -> str:
    """The ``beamsim distill`` command that writes ``out`` with the resolved settings ``cfg``.

    Args:
        settings: the study's settings (data set, encoding, seed, expert cache).
        cfg: the run's resolved settings; ``config_file`` holds them as TOML (written by the
            source), and the options repeat the ones that name the set.
        config_file: the ``--config`` file.
        out: the ``--out`` file.
    """
    s = settings
    parts = ["beamsim distill", f"--data {quote(s.data)}", f"--config {quote(config_file)}", f"--spc {cfg.spc}"]
    if cfg.quantizer.name != "none":
        parts.append(f"--bits {cfg.quantizer.bits}")
    parts += [f"--objective {cfg.objective}", f"--quantizer {cfg.quantizer.name}", f"--init {cfg.init}",
              f"--allocation {cfg.allocation}", "--replacement" if cfg.replacement else "--no-replacement", f"--iterations {cfg.iterations}",
              f"--encoding {s.encoding}", f"--seed {s.seed}"]
    if cfg.param.name != "none":
        parts.append(f"--param {cfg.param.name}")
        parts.append(f"--coefficients {cfg.param.coefficients}" if cfg.param.name == "fred" else
                     f"--colors {cfg.param.colors}")
    if s.cache_dir is not None:
        parts.append(f"--cache-dir {quote(s.cache_dir)}")
    parts.append(f"--out {quote(out)}")
    return " ".join(parts)


def compress_command(settings: StudySettings, file: Path, out: Path, *, bits: int, groups: int | str,
                     budget_bytes: int, refine: bool, entropy: bool, extra: bool) -> str:
    """The ``beamsim compress`` command that compresses ``file`` into ``out`` (real rows from
    the study's data set when ``extra``)."""
    flag = {True: "--", False: "--no-"}
    parts = ["beamsim compress", quote(file), f"--bits {bits}", f"--groups {groups}", f"--budget-bytes {budget_bytes}",
             f"{flag[refine]}refine", f"{flag[entropy]}entropy", f"{flag[extra]}extra"]
    if extra:
        parts.append(f"--source {quote(settings.data)}")
    parts += [f"--seed {settings.seed}", f"--out {quote(out)}"]
    return " ".join(parts)


def evaluate_command(settings: StudySettings, train: Path, encoding: str | None) -> str:
    """The ``beamsim evaluate`` command that trains on ``train`` and tests on the study's data
    set (``encoding`` None: the distilled file's own)."""
    s = settings
    parts = ["beamsim evaluate", f"--train {quote(train)}", f"--test {quote(s.data)}"]
    if encoding is not None:
        parts.append(f"--encoding {encoding}")
    if s.model != "beamcnn":
        parts.append(f"--model {s.model}")
    parts.append(f"--runs {s.runs}")
    if s.epochs is not None:
        parts.append(f"--epochs {s.epochs}")
    parts += [f"--seed {s.seed}", "--json"]
    return " ".join(parts)

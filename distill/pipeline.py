"""One call from training data to a distilled file: :func:`distill_file`.

What ``beamsim distill`` and every study that distils run, in this order::

    check that out (and the history file) can be written
    hold <out>.lock for the whole run (another run writing the same out is refused)
    QuADD(config, seed, device, checkpoint = <out name>.ckpt.pt)
    resume?  continue the checkpoint when there is one ("resuming <ckpt> at iteration k
             of n"), or say that there is none; one of other settings or data raises
             (on_mismatch="raise") or is deleted (on_mismatch="restart")
    fit(train) -> save(out, provenance) -> delete the checkpoint -> history CSV -> unlock

It is the counterpart of :func:`beamsim.distill.compress.compress_file`. The data come
from the caller, already loaded (``train`` is anything :meth:`QuADD.fit` accepts: an
``(x, y)`` pair, a ``BeamDataset``, an image split), and so does their provenance: this
module knows nothing of beam data-set files or image folders.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from beamsim.distill.naming import checkpoint_path
from beamsim.distill.provenance import Provenance
from beamsim.distill.runlock import hold_output
from beamsim.fileio import check_writable
from beamsim.records import write_csv

if TYPE_CHECKING:
    import torch

    from beamsim.distill.config import DistillConfig
    from beamsim.distill.quadd import QuADD

__all__ = ["distill_file", "DistillResult"]


@dataclass(frozen=True)
class DistillResult:
    """What :func:`distill_file` made.

    Attributes:
        path: the distilled file.
        quadd: the fitted estimator (``history_``, ``validation_``, ``best_iteration_``,
            ``timings_``, ``labels_``, ...).
        described: :func:`beamsim.distill.container.describe` of the written file.
        resumed: the run continued a checkpoint.
        seconds: wall time of fit, save and history [s].
    """

    path: Path
    quadd: QuADD
    described: dict[str, Any]
    resumed: bool
    seconds: float


def distill_file(train: Any, out: str | os.PathLike, config: DistillConfig, *, seed: int = 0,
                 device: str | torch.device | None = None, cache_dir: str | os.PathLike | None = None,
                 provenance: Provenance | None = None, class_names: list[str] | None = None,
                 extra_settings: dict[str, Any] | None = None, history: str | os.PathLike | None = None,
                 resume: bool = False, on_mismatch: Literal["raise", "restart"] = "raise",
                 progress: Callable[[int, int, dict], None] | None = None,
                 log: Callable[[str], None] | None = None) -> DistillResult:
    """Distil ``train`` with QuADD and write the set to ``out`` (what ``beamsim distill`` does).

    Args:
        train: the real training data, in any form :meth:`QuADD.fit` accepts.
        out: the distilled file (written atomically); its checkpoint is
            ``<out name>.ckpt.pt`` beside it (:func:`~beamsim.distill.naming.checkpoint_path`)
            and is deleted once the file is written.
        config: the resolved settings of the run.
        seed: every random choice derives from it: same seed, same output bytes.
        device: ``auto | cpu | cuda`` or a ``torch.device`` (None: the beamsim config's).
        cache_dir: expert-trajectory cache (None: QuADD's default).
        provenance: where ``train`` came from (source checksum, path, full training-set
            size, beam-map encoding); the run's objective, spc and seed are QuADD's own.
        class_names: stored in the file when given (image sets).
        extra_settings: joins the file's ``settings`` (an image run records its data set).
        history: also write one CSV row per iteration here (loss, gradient norm, ...).
        resume: continue the checkpoint beside ``out`` when there is one.
        on_mismatch: what a checkpoint of other settings or other data does with
            ``resume``: ``raise`` (:class:`~beamsim.distill.quadd.CheckpointMismatchError`)
            or ``restart`` (delete it, start from the beginning).
        progress: ``progress(iteration, total, info)``: once with ``(0, iterations, {})``
            when the work starts (after the checks, before expert training), then after each
            iteration.
        log: called with one line when ``resume`` continues a checkpoint, finds none, or
            deletes one.

    Returns:
        a :class:`DistillResult`.

    Raises:
        CheckpointMismatchError: a mismatching checkpoint with ``on_mismatch="raise"``.
        OutputBusyError: another run is writing ``out`` (:mod:`~beamsim.distill.runlock`).
        ValueError: bad settings or data (what :meth:`QuADD.fit` raises), an unknown
            ``on_mismatch``.
        OSError: ``out`` or ``history`` cannot be written (checked before any work).
    """
    if on_mismatch not in ("raise", "restart"):
        raise ValueError(f"on_mismatch must be 'raise' or 'restart', not {on_mismatch!r}")
    out = check_writable(out)
    if history is not None:
        history = check_writable(history)
    say = log or (lambda line: None)
    with hold_output(out):
        return _run(train, out, config, seed=seed, device=device, cache_dir=cache_dir, provenance=provenance,
                    class_names=class_names, extra_settings=extra_settings, history=history, resume=resume,
                    on_mismatch=on_mismatch, progress=progress, say=say)


def _run(train: Any, out: Path, config: DistillConfig, *, seed: int, device: str | torch.device | None,
         cache_dir: str | os.PathLike | None, provenance: Provenance | None, class_names: list[str] | None,
         extra_settings: dict[str, Any] | None, history: Path | None, resume: bool,
         on_mismatch: Literal["raise", "restart"], progress: Callable[[int, int, dict], None] | None,
         say: Callable[[str], None]) -> DistillResult:
    """:func:`distill_file` once it holds the output's lock."""
    from beamsim.distill.quadd import CheckpointMismatchError, QuADD
    from beamsim.distill.labels import check_top_k
    from beamsim.distill.param import check_param
    from beamsim.distill.runstate import checkpoint_iteration
    from beamsim.distill.tensors import sample_shape

    checkpoint = checkpoint_path(out)
    quadd = QuADD(config, device=device, seed=seed, cache_dir=cache_dir, checkpoint_path=checkpoint,
                  progress=progress)
    resumed = False
    if resume:
        try:
            resumed = quadd.check_resume(train)
        except CheckpointMismatchError:
            if on_mismatch == "raise":
                raise
            checkpoint.unlink(missing_ok=True)
            say(f"deleted {checkpoint}: written with other settings or other data; starting from the beginning")
        else:
            if resumed:
                say(f"resuming {checkpoint} at iteration {checkpoint_iteration(checkpoint)} of {config.iterations}")
            else:
                say(f"no checkpoint at {checkpoint}; starting from the beginning")
    check_param(config.param, sample_shape(train))  # before the progress bar starts
    if config.labels.soft and getattr(train, "num_classes", None) is not None:
        check_top_k(config.labels.top_k, int(train.num_classes))
    start = time.perf_counter()
    if progress is not None:
        progress(0, config.iterations, {})
    quadd.fit(train, resume=resumed)
    described = quadd.save(out, provenance=provenance, extra=extra_settings, class_names=class_names)
    checkpoint.unlink(missing_ok=True)
    if history is not None:
        write_csv(history, quadd.history_)
    return DistillResult(path=out, quadd=quadd, described=described, resumed=resumed,
                         seconds=time.perf_counter() - start)

"""Evaluation of a sequence file (BM-Case2): one training per horizon (or one network with a
head per horizon), KPIs per horizon.

For horizon ``h`` the input of a track is Set B over its first ``history`` instants, the K
instants as K input channels ([K, E, A]: the masked Set A grid, or [K, kr, kc] wide beams),
encoded against the strongest measured value over the whole history (so a fading or rising
track stays visible); the label is the best Set A beam at instant ``history - 1 + h``, and the
KPIs are the beam KPIs against the true Set A RSRP of that instant. Two trivial references
stand beside the model at every horizon:

- **best Set B beam of the last instant** (the task's reference: the strongest measured beam
  at instant ``history - 1``; with wide beams, the centre of the strongest one), held;
- **last best beam held**: the best Set A beam at instant ``history - 1`` (as if the UE had
  measured all of Set A then), held.

Each horizon runs the ordinary protocol (:func:`beamsim.experiments.evaluate.evaluate`) on a
:class:`~beamsim.experiments.loaders.TrainingSet` / :class:`~beamsim.experiments.loaders.TestSet`
pair built here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from beamsim.encoding import DEFAULT_ENCODING, Encoding, encode_inputs
from beamsim.experiments.evaluate import EvaluationResult, evaluate
from beamsim.experiments.loaders import TestSet, TrainingSet
from beamsim.experiments.metrics import beam_kpis, rsrp_loss_db, wide_scores
from beamsim.experiments.tasks import BEAM
from beamsim.sequences import SequenceArrays, read_sequences

__all__ = ["HorizonResult", "encode_history", "horizon_sets", "evaluate_sequences", "first_horizon",
           "LAST_BEAM_HELD"]

#: The name of the second reference.
LAST_BEAM_HELD = "last best beam held"


@dataclass
class HorizonResult:
    """One horizon of a sequence evaluation.

    Attributes:
        horizon: periods after the last input instant.
        result: the model's evaluation (its ``reference``: best Set B beam of the last instant).
        held: KPIs of :data:`LAST_BEAM_HELD`; held_rsrp_loss: its per-sample RSRP loss [dB].
        set_b_beams: beams the model reads per instant (Set B); fewer than the Set A beams
            (``result.num_classes``) make :data:`LAST_BEAM_HELD` a genie bound, not a baseline.
    """

    horizon: int
    result: EvaluationResult
    held: dict[str, float]
    held_rsrp_loss: torch.Tensor
    set_b_beams: int


def first_horizon(path: str | Path) -> int:
    """The first (shortest) horizon of a sequence file: what distillation labels its tracks with."""
    from beamsim.dataset import read_attrs

    return int(np.atleast_1d(read_attrs(path)["horizons"])[0])


def encode_history(observed: torch.Tensor, mask: torch.Tensor, encoding: Encoding = DEFAULT_ENCODING) -> torch.Tensor:
    """Model inputs of K instants: [N, K, H, W] float32, one channel per instant, every instant
    encoded against the strongest measured value of the whole history.

    Args:
        observed: [N, K, H, W] float reported RSRP [dBm]; mask: the same shape, bool (measured).
    """
    n, k, h, w = observed.shape
    x = encode_inputs(observed.reshape(n, k * h, w), mask.reshape(n, k * h, w), encoding)
    return x.reshape(n, k, h, w)


def _inputs(arrays: SequenceArrays, history: int, encoding: Encoding) -> torch.Tensor:
    if arrays.rsrp_setb is not None:
        setb = torch.from_numpy(arrays.rsrp_setb[:, :history])
        return encode_history(setb, torch.ones(setb.shape, dtype=torch.bool), encoding)
    observed = torch.from_numpy(arrays.rsrp[:, :history])
    mask = torch.from_numpy(arrays.mask)[:, None].expand_as(observed)
    return encode_history(observed, mask, encoding)


def horizon_sets(path: str | Path, horizon: int, encoding: Encoding = DEFAULT_ENCODING,
                 ) -> tuple[TrainingSet, TestSet, torch.Tensor]:
    """The training and test sets of one horizon, and the scores of :data:`LAST_BEAM_HELD`.

    Returns:
        (train, test, held scores [N_test, E * A] float64).

    Raises:
        DataFileError: not a sequence file; ValueError: ``horizon`` is not one of the file's.
    """
    return _Tracks(path, encoding).sets(horizon)


class _Tracks:
    """A sequence file read and its history encoded once, split into sets per horizon."""

    def __init__(self, path: str | Path, encoding: Encoding) -> None:
        self.path = Path(path)
        self.arrays, self.attrs = read_sequences(self.path)
        self.encoding = encoding
        self.horizons = [int(h) for h in np.atleast_1d(self.attrs["horizons"])]
        self.history = int(self.attrs["history"])
        self.x = _inputs(self.arrays, self.history, encoding)
        if self.arrays.rsrp_setb is not None:  # wide beams: their count
            self.set_b_beams = int(np.prod(self.arrays.rsrp_setb.shape[2:]))
        else:  # the masked Set A grid: its measured entries
            self.set_b_beams = int(self.arrays.mask.reshape(len(self.arrays.mask), -1).sum(axis=1).max())

    def sets(self, horizon: int) -> tuple[TrainingSet, TestSet, torch.Tensor]:
        arrays, attrs, path, k = self.arrays, self.attrs, self.path, self.history
        if horizon not in self.horizons:
            raise ValueError(f"{path} has horizons {self.horizons}, not {horizon}")
        y = torch.from_numpy(arrays.label[:, self.horizons.index(horizon)].astype(np.int64))
        train, test = arrays.split == 0, arrays.split == 1
        num_classes = int(np.prod(arrays.rsrp.shape[2:]))
        checksum = str(attrs.get("sha256", ""))
        training = TrainingSet(x=self.x[train], y=y[train], source=str(path), kind="dataset", encoding=self.encoding,
                               test_path=path, source_sha256=checksum, num_classes=num_classes, modality=BEAM.name)
        last = torch.from_numpy(arrays.rsrp[test, k - 1])
        reference = None
        if arrays.rsrp_setb is not None:
            reference = wide_scores(torch.from_numpy(arrays.rsrp_setb[test, k - 1]),
                                    torch.as_tensor(attrs["set_b_blocks"]), torch.as_tensor(attrs["set_b_centres"]))
        testing = TestSet(x=self.x[test], y=y[test], rsrp=torch.from_numpy(arrays.rsrp[test, k - 1 + horizon]),
                          mask=torch.from_numpy(arrays.mask[test]), num_classes=num_classes, path=path,
                          checksum=checksum, observed=last, task=BEAM, encoding=self.encoding,
                          reference_scores=reference)
        return training, testing, last.reshape(len(last), -1).double()


def evaluate_sequences(path: str | Path, horizons: list[int] | None = None, encoding: Encoding = DEFAULT_ENCODING,
                       joint: bool = False, **protocol) -> list[HorizonResult]:
    """Train and test one model per horizon, or one model with a head per horizon (``joint``)
    (``protocol``: the keywords of :func:`~beamsim.experiments.evaluate.evaluate`, e.g.
    ``runs``, ``epochs``, ``model``, ``seed``). The file is read and its history encoded once.

    Returns:
        One :class:`HorizonResult` per horizon (all the file's when ``horizons`` is None).
    """
    tracks = _Tracks(path, encoding)
    chosen = tracks.horizons if horizons is None else horizons
    sets = [tracks.sets(h) for h in chosen]
    if joint:
        first = sets[0][0]
        heads = dataclasses.replace(first, y=torch.stack([train.y for train, _, _ in sets], dim=1))
        results = evaluate(heads, [test for _, test, _ in sets], **protocol)
    else:
        results = [evaluate(train, test, **protocol) for train, test, _ in sets]
    return [HorizonResult(h, result, beam_kpis(held, test.y, test.rsrp), rsrp_loss_db(held.argmax(dim=1), test.rsrp),
                          tracks.set_b_beams)
            for h, result, (_, test, held) in zip(chosen, results, sets)]

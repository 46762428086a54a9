"""The result of one evaluation and its JSON document."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from beamsim.experiments.protocol import Protocol, mean_std

__all__ = ["EvaluationResult"]


@dataclass
class EvaluationResult:
    """Numbers of one evaluation.

    Attributes:
        model, runs, seed, device: what ran; protocol: the :class:`Protocol` (epochs included).
        train, train_kind, test: where the data came from; encoding: the input encoding
            (``""`` where none applies, e.g. images).
        train_samples, test_samples, input_shape, num_classes: sizes.
        per_run: the KPIs of every run (fractions in [0, 1], losses in dB).
        reference: the KPIs of the task's trivial reference (beam maps: "strongest observed
            beam"; empty when the task has none, e.g. images); reference_name: its name, or None.
        seconds_per_run: training wall time of every run [s]; threads: torch CPU threads.
        predictions: [runs, N_test] int64 predicted beams (classes); labels: [N_test] int64;
        rsrp_loss: [runs, N_test] float64 per-sample loss of the task (beam maps: RSRP loss
        [dB]); reference_rsrp_loss: [N_test], the reference's (both None for images).
        modality: the task's name, ``beam`` or ``image``.
    """

    model: str
    runs: int
    seed: int
    device: str
    protocol: Protocol
    train: str
    train_kind: str
    test: str
    encoding: str
    train_samples: int
    test_samples: int
    input_shape: tuple[int, ...]
    num_classes: int
    per_run: list[dict[str, float]]
    reference: dict[str, float]
    seconds_per_run: list[float]
    threads: int
    predictions: torch.Tensor = field(repr=False)
    labels: torch.Tensor = field(repr=False)
    rsrp_loss: torch.Tensor | None = field(repr=False)
    reference_rsrp_loss: torch.Tensor | None = field(repr=False)
    modality: str = "beam"
    reference_name: str | None = None

    @property
    def epochs(self) -> int:
        return self.protocol.epochs

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """``{kpi: {"mean": .., "std": ..}}`` over the runs."""
        return {name: mean_std([run[name] for run in self.per_run]) for name in self.per_run[0]}

    def to_dict(self) -> dict:
        """One JSON-ready document (plain types only).

        The KPI summaries first, then sizes and sources, ``reference`` (name and KPIs) when
        the task has one, ``modality``, the protocol, timings and every run's KPIs.
        """
        doc: dict = dict(self.summary)
        doc.update({
            "model": self.model, "runs": self.runs, "epochs": self.epochs, "seed": self.seed,
            "train": self.train, "train_kind": self.train_kind, "test": self.test, "encoding": self.encoding,
            "train_samples": self.train_samples, "test_samples": self.test_samples,
            "input_shape": list(self.input_shape), "num_classes": self.num_classes,
        })
        if self.reference_name is not None:
            doc["reference"] = {"name": self.reference_name, **self.reference}
        doc["modality"] = self.modality
        doc.update({
            "protocol": asdict(self.protocol),
            "device": self.device, "threads": self.threads,
            "seconds_per_run": mean_std(self.seconds_per_run),
            "per_run": [dict(run, seconds=s) for run, s in zip(self.per_run, self.seconds_per_run)],
        })
        return doc

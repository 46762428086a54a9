"""Evaluation tasks: what one modality brings to the evaluation protocol.

A :class:`Task` answers the four questions the protocol (:mod:`beamsim.experiments.protocol`)
has about the data it trains on, so the protocol never asks which modality it runs:

================  ===========================================  ======================================
                  beam maps (:data:`BEAM`)                     images (:data:`IMAGE`)
================  ===========================================  ======================================
KPIs              :data:`KPI_NAMES`: top-1/2/3/4/5/8, top-1    :data:`IMAGE_KPI_NAMES`: top-1, top-5
                  within 1 dB, RSRP loss mean and 95th pct.    (only with >= 5 classes), macro F1
                  [dB], macro F1 (:func:`~beamsim.
                  experiments.metrics.beam_kpis`, against
                  the full RSRP)
per-sample loss   RSRP loss of the predicted beam [dB]          none
trivial reference strongest observed beam (the same KPIs)       none
default model     ``beamcnn``                                   the network the set was distilled
                                                                with, else ConvNetD3 up to 64 x 64
                                                                pixels and ConvNetD5 above
augmentation      never (``auto`` and ``none``: none; ``dsa``   DSA for ``auto`` and ``dsa``, with
                  is refused)                                   the distilled file's op groups, else
                                                                the data set's, else DSA's default;
                                                                ``none``: none
================  ===========================================  ======================================

A test set carries its task (:attr:`beamsim.experiments.loaders.TestSet.task`); a new
modality is a new :class:`Task` subclass whose instance rides on its test sets, and the
protocol runs it unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import torch

from beamsim.experiments.metrics import IMAGE_TOPK, beam_kpis, image_kpis, observed_scores, rsrp_loss_db

if TYPE_CHECKING:
    from beamsim.experiments.loaders import TestSet, TrainingSet

__all__ = ["Task", "BeamTask", "ImageTask", "Reference", "BEAM", "IMAGE", "KPI_NAMES", "IMAGE_KPI_NAMES",
           "AugmentName", "Augment"]

#: ``auto``: the task's own choice (DSA for images, none for beam maps); ``dsa``; ``none``.
AugmentName = Literal["auto", "dsa", "none"]
#: A training-batch augmentation: ``augment(batch, generator) -> batch`` (same shape).
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
#: The beam KPIs, in the order they are printed.
KPI_NAMES: tuple[str, ...] = ("top1", "top2", "top3", "top4", "top5", "top8", "within_1db", "rsrp_loss_db", "rsrp_loss_p95_db", "macro_f1")
#: The image KPIs (top-5 only with at least 5 classes).
IMAGE_KPI_NAMES: tuple[str, ...] = ("top1", "top5", "macro_f1")


@dataclass(frozen=True)
class Reference:
    """A trivial reference a trained network is compared with.

    Attributes:
        name: how it is printed (``"strongest observed beam"``).
        kpis: its KPIs on the test set (same names as the network's).
        sample_loss: [N_test] float64 per-sample loss (beam: RSRP loss [dB]), or None.
    """

    name: str
    kpis: dict[str, float]
    sample_loss: torch.Tensor | None = field(default=None, repr=False)


class Task(ABC):
    """What the evaluation protocol needs to know about one modality.

    Attributes:
        name: the modality (``"beam"``, ``"image"``), recorded in every result.
        classes_label: how the test set's classes are named in messages.
        inputs_label: how the training inputs are named in messages.
    """

    name: ClassVar[str]
    classes_label: ClassVar[str] = "classes"
    inputs_label: ClassVar[str] = "inputs"

    @abstractmethod
    def kpis(self, scores: torch.Tensor, test: TestSet) -> dict[str, float]:
        """The KPIs of one run: ``scores`` [N_test, C] float (logits) on ``test``."""

    def sample_loss(self, pred: torch.Tensor, test: TestSet) -> torch.Tensor | None:
        """Per-sample loss of the predictions ``pred`` [N_test] int64, or None (the default)."""
        return None

    def reference(self, test: TestSet) -> Reference | None:
        """The trivial reference on ``test``, or None (the default: there is none)."""
        return None

    @abstractmethod
    def default_model(self, train: TrainingSet, test: TestSet) -> str:
        """The network trained when the caller names none (a :func:`beamsim.models.list_models` name)."""

    @abstractmethod
    def augmentation(self, name: AugmentName, train: TrainingSet, test: TestSet) -> str:
        """The protocol's augmentation for the requested ``name``: ``"none"`` or ``"dsa:<strategy>"``.

        Raises:
            ValueError: an augmentation this modality does not take.
        """

    def augmenter(self, augmentation: str) -> Augment | None:
        """The batch transform of an :meth:`augmentation` value (None for ``"none"``, the default)."""
        if augmentation != "none":
            raise ValueError(f"{self.name} data takes no augmentation, not {augmentation!r}")
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BeamTask(Task):
    """Beam prediction from masked RSRP maps (3GPP BM-Case1 style KPIs; see the module docstring).

    Needs ``test.rsrp`` ([N, E, A] float32 full unmasked RSRP [dBm]), ``test.mask`` and, for the
    reference, ``test.observed`` (the reported RSRP; ``rsrp`` when None).
    """

    name = "beam"
    classes_label = "classes (beams)"
    kpi_names = KPI_NAMES

    def kpis(self, scores: torch.Tensor, test: TestSet) -> dict[str, float]:
        return beam_kpis(scores, test.y, test.rsrp)

    def sample_loss(self, pred: torch.Tensor, test: TestSet) -> torch.Tensor:
        """RSRP loss of the predicted beams: [N_test] float64 [dB]."""
        return rsrp_loss_db(pred, test.rsrp)

    def reference(self, test: TestSet) -> Reference:
        """The strongest observed beam, ranked by the reported RSRP (unmeasured beams last); with
        a wide Set B, the centre beam of the strongest wide beam (``test.reference_scores``)."""
        if test.reference_scores is not None:
            name, scores = "centre of the strongest wide beam", test.reference_scores
        else:
            reported = test.observed if test.observed is not None else test.rsrp
            name, scores = "strongest observed beam", observed_scores(reported, test.mask)
        return Reference(name, beam_kpis(scores, test.y, test.rsrp), rsrp_loss_db(scores.argmax(dim=1), test.rsrp))

    def default_model(self, train: TrainingSet, test: TestSet) -> str:
        return "beamcnn"

    def augmentation(self, name: AugmentName, train: TrainingSet, test: TestSet) -> str:
        if name == "dsa":
            raise ValueError("DSA is for images: beam maps are never augmented (use augment='none' or 'auto')")
        return "none"


class ImageTask(Task):
    """Image classification: top-1, top-5 and macro F1 (see the module docstring)."""

    name = "image"
    inputs_label = "images"
    kpi_names = IMAGE_KPI_NAMES

    def kpis(self, scores: torch.Tensor, test: TestSet) -> dict[str, float]:
        return image_kpis(scores, test.y, ks=tuple(k for k in IMAGE_TOPK if k <= scores.shape[1]))

    def default_model(self, train: TrainingSet, test: TestSet) -> str:
        if train.model:
            return train.model
        from beamsim.distill.data.spec import default_model

        return default_model(int(max(train.x.shape[2:])))

    def augmentation(self, name: AugmentName, train: TrainingSet, test: TestSet) -> str:
        if name == "none":
            return "none"
        from beamsim.distill.data.augment import DEFAULT_STRATEGY

        return "dsa:" + (train.dsa_strategy or test.dsa_strategy or DEFAULT_STRATEGY)

    def augmenter(self, augmentation: str) -> Augment | None:
        if augmentation == "none":
            return None
        from beamsim.distill.data.augment import DSA

        return DSA(strategy=augmentation.removeprefix("dsa:"))


#: The beam-map task (stateless: one instance serves every test set).
BEAM = BeamTask()
#: The image task.
IMAGE = ImageTask()

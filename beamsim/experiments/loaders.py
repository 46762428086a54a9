"""Training and test sets of an evaluation: reading them and checking that they fit together.

Training sets are a data-set file (``format = "beamsim.dataset"``: its train split; the test
split of the same file unless a test set is given), a distilled file (``format =
"beamsim.distilled"``, read by ``beamsim.distill.load``; tested on its source data set,
whose sha256 must match the one the file records), or tensors ``(x, y)`` with a real data
set to test on. A distilled *image* file records its data set (``settings.dataset``: name,
data root, image size, ZCA flag, eps and the ZCA matrix's sha256); its test split is that
data set's, transformed as the training images were (the transform is refitted on the
training images and checked against the recorded sha256:
:func:`beamsim.distill.data.spec.verify_settings`).

Beam maps are encoded with :data:`beamsim.dataset.DEFAULT_ENCODING` unless told otherwise; a
distilled file is always read with the encoding it records (another one raises; one that
records none was made with :data:`UNRECORDED_ENCODING` unless told otherwise), and the test
split is encoded like the training set (same encoding, mask channel when the training inputs
have 2 channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from beamsim.dataset import DEFAULT_ENCODING, BeamDataset, Encoding, read_attrs
from beamsim.dataset import FORMAT as DATASET_FORMAT
from beamsim.distill.container import settings_of
from beamsim.errors import DataFileError
from beamsim.experiments.metrics import wide_scores
from beamsim.experiments.tasks import BEAM, IMAGE, Task
from beamsim.models.training import Redraw

__all__ = ["TrainingSet", "TestSet", "load_training_set", "load_test_set", "image_test_set", "prepare",
           "check_compatible", "DISTILLED_FORMAT", "UNRECORDED_ENCODING"]

DISTILLED_FORMAT = "beamsim.distilled"
#: The encoding of a distilled beam file whose ``encoding`` attribute is empty: such files come
#: from ``QuADD.save`` called without ``encoding=`` on a ``BeamDataset`` of beamsim 0.1, whose
#: default was ``relative`` (a fact about old files, not a default for new inputs).
UNRECORDED_ENCODING: Encoding = "relative"


@dataclass
class TrainingSet:
    """Training inputs and where they came from.

    Attributes:
        x: [N, C, H, W] float32 inputs; y: [N] int64 labels ([N, H]: one per head of a network
            with H heads, see :func:`beamsim.experiments.protocol.train_runs`).
        source: path of the file, or ``"tensors"``.
        kind: ``"dataset"``, ``"distilled"`` or ``"tensors"``.
        encoding: input encoding (``relative`` / ``attenuation``) or None if unknown.
        test_path: the real data set to test on by default (None: must be given).
        source_sha256: checksum the default test file must have (distilled files).
        num_classes: class count the set was made for (None: taken from the test set).
        redraw: fresh inputs per read (random-mask data-set files), else None.
        dataset: the image data-set record of a distilled image file (``settings.dataset``),
            None for beam data.
        model: the network the set was distilled with (distilled image files), else None.
        dsa_strategy: the DSA op groups of the distillation (distilled image files), else None.
        modality: the :attr:`Task.name <beamsim.experiments.tasks.Task.name>` of the data
            (``beam``, ``image``); None for tensors (the test set's).
        targets: [N, C] float32 soft targets a network trains on instead of ``y`` (a distilled
            file with soft labels, :mod:`beamsim.distill.labels`), else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    source: str
    kind: Literal["dataset", "distilled", "tensors"]
    encoding: str | None = None
    test_path: Path | None = None
    source_sha256: str | None = None
    num_classes: int | None = None
    redraw: Redraw | None = None
    dataset: dict | None = None
    model: str | None = None
    dsa_strategy: str | None = None
    modality: str | None = None
    targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y): what :func:`beamsim.distill.tensors.as_tensors` reads (with ``num_classes``)."""
        return self.x, self.y


@dataclass
class TestSet:
    """A real test split: model inputs, labels, and what its task's KPIs need.

    Attributes:
        x: [N, C, H, W] float32 inputs (beam maps: under the stored masks); y: [N] int64
            labels (beam maps: the best beam).
        rsrp: [N, E, A] float32 full unmasked RSRP [dBm]; mask: [N, E, A] bool (beam maps
            only; None for images).
        num_classes: E * A (images: the classes). path, checksum: the file and its sha256
            (images: the data root or ``sklearn:digits``, and the training data's sha256).
        observed: [N, E, A] float32 reported RSRP [dBm] (with measurement noise and grid when
            the file has them; else ``rsrp``): what the trivial reference sees (beam maps).
        task: the modality's :class:`~beamsim.experiments.tasks.Task` (KPIs, reference,
            default model, augmentation).
        dsa_strategy: the data set's DSA op groups (images), else None.
        encoding: the input encoding of ``x`` (beam maps); ``""`` where none applies.
        reference_scores: [N, E * A] float64 scores of the trivial reference where it is not the
            strongest observed beam (wide Set B: :func:`~beamsim.experiments.metrics.wide_scores`),
            else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    rsrp: torch.Tensor | None
    mask: torch.Tensor | None
    num_classes: int
    path: Path
    checksum: str
    observed: torch.Tensor | None = None
    task: Task = BEAM
    dsa_strategy: str | None = None
    encoding: str = ""
    reference_scores: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])


def load_training_set(path: str | Path, encoding: Encoding | None = None) -> TrainingSet:
    """Read a training set from a data-set or distilled file (dispatch on its ``format`` attr).

    Args:
        path: the file.
        encoding: input encoding; default: :data:`~beamsim.dataset.DEFAULT_ENCODING` for a
            data-set file; a distilled file's own ``encoding`` attr (:data:`UNRECORDED_ENCODING`
            when it records none). A distilled file cannot be re-encoded, so a value that
            contradicts the recorded one raises.

    Raises:
        DataFileError: missing or unreadable file, unknown format, invalid content.
        ValueError: an encoding that contradicts the distilled file's.
    """
    path = Path(path)
    attrs = read_attrs(path)
    fmt = str(attrs.get("format", ""))
    if fmt == DATASET_FORMAT:
        ds = BeamDataset(path, split="train", encoding=encoding or DEFAULT_ENCODING)
        return TrainingSet(x=ds.inputs, y=ds.labels, source=str(path), kind="dataset", encoding=ds.encoding,
                           test_path=path, source_sha256=ds.checksum, num_classes=ds.num_classes,
                           redraw=ds.redrawn_inputs if ds.redraw_mask else None, modality=BEAM.name)
    if fmt == DISTILLED_FORMAT:
        return _load_distilled(path, attrs, encoding)
    found = f"format {fmt!r}" if fmt else "no 'format' attribute"
    raise DataFileError(f"{path}: cannot train on this file ({found}); expected {DATASET_FORMAT!r} or {DISTILLED_FORMAT!r}")


def _load_distilled(path: Path, attrs: dict, encoding: Encoding | None) -> TrainingSet:
    """A distilled beam or image file (the image ones record their data set in ``settings``)."""
    file_encoding = str(attrs.get("encoding") or "") or None  # "" = not recorded
    if encoding is not None and file_encoding is not None and encoding != file_encoding:
        raise ValueError(f"{path} was distilled with the {file_encoding!r} encoding; "
                         f"it cannot be evaluated with {encoding!r} (leave --encoding out)")
    import beamsim.distill  # the public reader (tests stand in for it there)

    soft = None
    if "label_topk" in attrs:  # soft labels: one read gives the samples and their stored targets
        stored = beamsim.distill.read(path)
        x, y, soft = stored.x, stored.y, stored.soft
    else:
        x, y = beamsim.distill.load(path)
    num_classes = attrs.get("num_classes")
    common = dict(x=x.float().cpu(), y=y.long().cpu(), source=str(path), kind="distilled",
                  targets=soft.targets() if soft is not None else None,
                  source_sha256=str(attrs.get("source_sha256") or "") or None,
                  num_classes=int(num_classes) if num_classes is not None else None)
    settings = settings_of(attrs, str(path))
    record = settings.get("dataset")
    if isinstance(record, dict) and record.get("name", "beam") != "beam":
        config = settings.get("config") if isinstance(settings.get("config"), dict) else {}
        if encoding is not None:
            raise ValueError(f"{path} is an image set; --encoding applies to beam maps only")
        return TrainingSet(**common, dataset=record, model=config.get("model"),
                           dsa_strategy=config.get("dsa_strategy"), modality=IMAGE.name)
    source = str(attrs.get("source_path") or "")
    return TrainingSet(**common, encoding=file_encoding or encoding or UNRECORDED_ENCODING,
                       test_path=Path(source) if source else None, modality=BEAM.name)


def load_test_set(path: str | Path, encoding: Encoding = DEFAULT_ENCODING, mask_channel: bool | None = None) -> TestSet:
    """The test split of a real data-set file, encoded like the training set.

    Raises:
        DataFileError: the file is missing, not a data set, or has an empty test split.
    """
    path = Path(path)
    ds = BeamDataset(path, split="test", encoding=encoding, mask_channel=mask_channel, redraw_mask=False)
    reference = None
    if ds.setb is not None:
        reference = wide_scores(ds.setb, torch.as_tensor(ds.attrs["set_b_blocks"]), torch.as_tensor(ds.attrs["set_b_centres"]))
    return TestSet(x=ds.inputs, y=ds.labels, rsrp=ds.rsrp, mask=ds.mask, num_classes=ds.num_classes,
                   path=path, checksum=ds.checksum, observed=ds.observed, task=BEAM, encoding=ds.encoding,
                   reference_scores=reference)


def image_test_set(data) -> TestSet:
    """The test split of a loaded image data set (:class:`beamsim.distill.data.ImageData`)."""
    from beamsim.distill.data.spec import DSA_STRATEGY

    return TestSet(x=data.test.inputs, y=data.test.labels, rsrp=None, mask=None, num_classes=data.num_classes,
                   path=Path(data.spec.source), checksum=data.checksum, task=IMAGE,
                   dsa_strategy=DSA_STRATEGY[data.spec.dataset])


def _recorded_image_test_set(train: TrainingSet, device: str | torch.device | None = None) -> TestSet:
    """Reload the data set a distilled image file records, refit and check its transform."""
    from beamsim.distill.data.spec import load_image_data, spec_from_settings, verify_settings

    record = train.dataset or {}
    data = load_image_data(spec_from_settings(record), device=device)
    verify_settings(data, record, where=train.source)
    return image_test_set(data)


def _test_set(path: Path, train: TrainingSet) -> TestSet:
    """The test split ``train`` is tested on: a data set's, or a sequence file's at its first
    horizon (what a distilled set of tracks was labelled with)."""
    from beamsim.sequences import is_sequence_file

    encoding = train.encoding or DEFAULT_ENCODING
    if is_sequence_file(path):
        from beamsim.experiments.sequence_eval import first_horizon, horizon_sets

        return horizon_sets(path, first_horizon(path), encoding)[1]  # type: ignore[arg-type]
    return load_test_set(path, encoding, mask_channel=_mask_channel(train))  # type: ignore[arg-type]


def _mask_channel(train: TrainingSet) -> bool:
    """Whether a beam training set carries the mask as a second input channel."""
    if train.x.ndim != 4:
        raise DataFileError(f"{train.source}: training inputs must be [N, C, H, W], found {list(train.x.shape)}")
    channels = train.x.shape[1]
    if channels not in (1, 2):
        raise DataFileError(f"{train.source}: beam inputs have 1 channel (2 with the mask), found {channels}")
    return channels == 2


def check_compatible(train: TrainingSet, test: TestSet) -> None:
    """Raise unless a network trained on ``train`` can be tested on ``test``.

    Checks the modality, the input shape, the class count, the label range, the input
    encoding (when both record one) and that the inputs are [N, C, H, W].

    Raises:
        DataFileError: the first mismatch, in one line.
    """
    task = test.task
    if train.modality is not None and train.modality != task.name:
        article = "an" if train.modality[:1] in "aeiou" else "a"
        raise DataFileError(f"{train.source} is {article} {train.modality} set; "
                            f"it cannot be tested on the {task.name} data set {test.path}")
    if tuple(train.x.shape[1:]) != tuple(test.x.shape[1:]):
        raise DataFileError(f"test set {test.path} has inputs of shape {list(test.x.shape[1:])}, "
                            f"the training set {list(train.x.shape[1:])}")
    if train.num_classes is not None and train.num_classes != test.num_classes:
        raise DataFileError(f"test set {test.path} has {test.num_classes} {task.classes_label}, "
                            f"the training set {train.num_classes}")
    if len(train) and (int(train.y.min()) < 0 or int(train.y.max()) >= test.num_classes):
        raise DataFileError(f"training labels lie outside the test set's {test.num_classes} classes")
    if train.encoding and test.encoding and train.encoding != test.encoding:
        raise DataFileError(f"test set {test.path} is encoded {test.encoding!r}, the training set {train.encoding!r}")
    if train.x.ndim != 4:
        raise DataFileError(f"{train.source}: training {task.inputs_label} must be [N, C, H, W], "
                            f"found {list(train.x.shape)}")


def prepare(train: str | Path | tuple[torch.Tensor, torch.Tensor] | TrainingSet,
            test: str | Path | TestSet | None = None,
            encoding: Encoding | None = None, *,
            device: str | torch.device | None = None) -> tuple[TrainingSet, TestSet]:
    """Load and cross-check the training and test sets of an evaluation (no training).

    Arguments as in :func:`beamsim.experiments.evaluate.evaluate`. The test split is encoded
    like the training set (same encoding, mask channel when the training inputs have 2
    channels). A distilled image file is tested on the test split of the data set it
    records, transformed as its training images were (``device``: where the ZCA transform
    is refitted).

    Raises:
        DataFileError / ValueError: as :func:`~beamsim.experiments.evaluate.evaluate`.
    """
    if isinstance(train, TrainingSet):
        train_set = train
    elif isinstance(train, (tuple, list)):
        if len(train) != 2:
            raise TypeError("train must be a file path or a tuple (x, y)")
        x, y = train
        if test is None:
            raise ValueError("a training set given as tensors needs test= (a real data-set file)")
        train_set = TrainingSet(x=torch.as_tensor(x).float(), y=torch.as_tensor(y).long(), source="tensors",
                                kind="tensors", encoding=encoding)
    else:
        train_set = load_training_set(train, encoding)
    if train_set.x.shape[0] != train_set.y.shape[0] or train_set.y.ndim != 1:
        raise ValueError(f"training inputs {list(train_set.x.shape)} and labels {list(train_set.y.shape)} do not match")
    if len(train_set) == 0:
        raise DataFileError(f"{train_set.source}: the training set is empty")
    if isinstance(test, TestSet):
        test_set = test
    elif train_set.dataset is not None:  # the set records the image data set it is tested on
        if test is not None:
            raise ValueError(f"{train_set.source} is an image set: it is tested on the test split of the data set it "
                             f"records ({train_set.dataset.get('name')}); leave --test out")
        test_set = _recorded_image_test_set(train_set, device)
    else:
        test_path = Path(test) if test is not None else train_set.test_path
        if test_path is None:
            raise DataFileError(f"{train_set.source} names no source data set to test on; give test= (--test)")
        test_set = _test_set(test_path, train_set)
        if test is None and train_set.source_sha256 and train_set.source_sha256 != test_set.checksum:
            raise DataFileError(f"{test_path} is not the data set {train_set.source} was made from (sha256 differs); "
                                "give the test file explicitly (--test)")
    check_compatible(train_set, test_set)
    return train_set, test_set

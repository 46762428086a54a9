"""Evaluation: train fresh networks on a training set, test them on a real test split.

This is the yardstick every number of the project is measured with.

Protocol (fixed; every value is in :class:`Protocol` and printed with the results):

- a fresh network per run, initialised from a seeded generator
  (:func:`beamsim.models.reset_parameters`); run ``r`` of seed ``s`` draws its weights and
  its batch order from ``derive_seed(s, "evaluate", r, ...)``, so the same seed gives the
  same numbers;
- AdamW, lr 1e-3, weight decay 1e-4, cross-entropy with label smoothing 0.1, batch 256,
  cosine decay of the lr to 0 over all steps (per step, no warm-up); no augmentation for beam
  maps, differentiable siamese augmentation (DSA, one op group per batch) for images;
- bfloat16 autocast for the training forward and backward passes (weights, optimizer state
  and loss stay float32; test logits are computed in float32). On the 2-core development
  CPU (AVX512-BF16) this trained beamcnn about 3x faster with the same accuracy as float32
  (umi, 32 epochs, seed 0: 83.1 % vs 83.2 % top-1); ``precision="fp32"`` turns it off
  (use it on CPUs without native bfloat16, where autocast is slower);
- epochs: given, or by :func:`default_epochs` from the training-set size;
- random-mask training files get a new random mask for every sample at every epoch
  (``BeamDataset.redrawn_inputs``); test masks are the stored ones;
- the reported numbers are those of the network at the end of training, on the test split:
  never the best epoch or checkpoint;
- mean and sample standard deviation (ddof 1; 0 for a single run) over ``runs`` seeds.

KPIs (:mod:`beamsim.experiments.metrics`) are computed against the full, unmasked RSRP of
each test sample; the trivial reference "strongest observed beam" is reported beside them.
Image sets report top-1, top-5 and macro F1 (the beam-only KPIs and the reference are
omitted).

Training sets are a data-set file (``format = "beamsim.dataset"``: its train split; the test
split of the same file unless ``test`` is given), a distilled file (``format =
"beamsim.distilled"``, read by ``beamsim.distill.load``; tested on its source data set), or
tensors ``(x, y)`` with the path of a real data set to test on. A distilled *image* file
records its data set (``settings.dataset``: name, data root, image size, ZCA flag, eps and
the ZCA matrix's sha256); its test split is that data set's, transformed as the training
images were (the transform is refitted on the training images and checked against the
recorded sha256: :func:`beamsim.distill.data.spec.verify_settings`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch

from beamsim.config import derive_seed, resolve_device
from beamsim.dataset import FORMAT as DATASET_FORMAT
from beamsim.dataset import BeamDataset, Encoding, read_attrs
from beamsim.errors import DataFileError
from beamsim.experiments.metrics import IMAGE_TOPK, beam_kpis, image_kpis, observed_scores, rsrp_loss_db
from beamsim.models.training import OptimizerName, Redraw, predict, train_model
from beamsim.models import get_model, list_models, reset_parameters

__all__ = [
    "evaluate", "prepare", "EvaluationResult", "Protocol", "TrainingSet", "TestSet", "load_training_set",
    "load_test_set", "image_test_set", "default_epochs", "default_model", "DISTILLED_FORMAT", "KPI_NAMES", "IMAGE_KPI_NAMES",
    "Precision", "AugmentName",
]

DISTILLED_FORMAT = "beamsim.distilled"
#: ``bf16``: forward and backward under bfloat16 autocast (weights, optimizer and loss in
#: float32); ``fp32``: plain float32. Test predictions are always computed in float32.
Precision = Literal["bf16", "fp32"]
#: ``auto``: DSA for image training sets, none for beam maps; ``dsa``; ``none``.
AugmentName = Literal["auto", "dsa", "none"]
#: The beam KPIs, in the order they are printed.
KPI_NAMES: tuple[str, ...] = ("top1", "top2", "top3", "top5", "within_1db", "rsrp_loss_db", "rsrp_loss_p95_db", "macro_f1")
#: The image KPIs (top-5 only with at least 5 classes).
IMAGE_KPI_NAMES: tuple[str, ...] = ("top1", "top5", "macro_f1")


#: Training samples a run sees by default (see :func:`default_epochs`).
DEFAULT_SAMPLES_SEEN = 200_000


def default_epochs(num_samples: int) -> int:
    """The default number of training epochs for a training set of ``num_samples``.

    Every run sees about 200,000 samples, with 30 to 300 epochs:
    ``clip(ceil(200_000 / num_samples), 30, 300)``. The full umi training split (24,000)
    gets 30 epochs, a 50-per-class set (~3,100) 65, sets of 668 samples or fewer 300.

    Chosen on a validation part of the umi training split (4,000 held-out training samples,
    2 seeds each; the test split was not used): random real subsets of 10 per class scored
    best at 300 epochs (30/50/100/300 epochs: 43.5/50.3/54.2/56.4 % top-1), of 50 per class
    at 50 epochs (30/50/100/200: 73.4/74.4/72.9/72.1 %: longer training overfits); the
    20,000-sample remainder reached 81.4 % in 20 epochs, and 30 epochs keep a full-split run
    under a minute on 2 CPU cores.

    >>> default_epochs(24_000), default_epochs(3_200), default_epochs(640)
    (30, 63, 300)
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    return int(min(300, max(30, math.ceil(DEFAULT_SAMPLES_SEEN / num_samples))))


@dataclass(frozen=True)
class Protocol:
    """The training protocol of an evaluation (see the module docstring)."""

    epochs: int
    batch_size: int = 256
    optimizer: OptimizerName = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    schedule: Literal["cosine", "constant"] = "cosine"
    precision: Precision = "bf16"
    augment: str = "none"

    def __post_init__(self) -> None:
        if self.augment != "none" and not self.augment.startswith("dsa:"):
            raise ValueError(f"augment must be 'none' or 'dsa:<strategy>', not {self.augment!r}")
        if self.precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be 'bf16' or 'fp32', not {self.precision!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label smoothing must lie in [0, 1), got {self.label_smoothing}")


@dataclass
class TrainingSet:
    """Training inputs and where they came from.

    Attributes:
        x: [N, C, H, W] float32 inputs; y: [N] int64 labels.
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

    @property
    def is_image(self) -> bool:
        """True for a distilled image set (its test split comes from its data-set record)."""
        return self.dataset is not None

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class TestSet:
    """A real test split: model inputs, labels and what the KPIs need.

    Attributes:
        x: [N, C, E, A] float32 inputs under the stored masks; y: [N] int64 best beam.
        rsrp: [N, E, A] float32 full unmasked RSRP [dBm]; mask: [N, E, A] bool (both None
            for images).
        num_classes: E * A (images: the classes). path, checksum: the file and its sha256
            (images: the data root or ``sklearn:digits``, and the training data's sha256).
        observed: [N, E, A] float32 reported RSRP [dBm] (with measurement noise and grid when
            the file has them; else ``rsrp``): what the trivial reference sees.
        image: True for an image test split (top-1/top-5/macro F1 only).
        dsa_strategy: the data set's DSA op groups (images), else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    rsrp: torch.Tensor | None
    mask: torch.Tensor | None
    num_classes: int
    path: Path
    checksum: str
    observed: torch.Tensor | None = None
    image: bool = False
    dsa_strategy: str | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])


def load_training_set(path: str | Path, encoding: Encoding | None = None) -> TrainingSet:
    """Read a training set from a data-set or distilled file (dispatch on its ``format`` attr).

    Args:
        path: the file.
        encoding: input encoding; default: the distilled file's ``encoding`` attr, else
            ``relative``. A distilled file cannot be re-encoded, so a different value raises.

    Raises:
        DataFileError: missing or unreadable file, unknown format, invalid content.
        ValueError: an encoding that contradicts the distilled file's.
    """
    path = Path(path)
    attrs = read_attrs(path)
    fmt = str(attrs.get("format", ""))
    if fmt == DATASET_FORMAT:
        ds = BeamDataset(path, split="train", encoding=encoding or "relative")
        return TrainingSet(x=ds.inputs, y=ds.labels, source=str(path), kind="dataset", encoding=ds.encoding,
                           test_path=path, source_sha256=ds.checksum, num_classes=ds.num_classes,
                           redraw=ds.redrawn_inputs if ds.redraw_mask else None)
    if fmt == DISTILLED_FORMAT:
        file_encoding = str(attrs.get("encoding") or "") or None  # "" = not recorded
        if encoding is not None and file_encoding is not None and encoding != file_encoding:
            raise ValueError(f"{path} was distilled with the {file_encoding!r} encoding; "
                             f"it cannot be evaluated with {encoding!r} (leave --encoding out)")
        try:
            from beamsim.distill import load as load_distilled
        except ImportError:
            raise DataFileError(f"{path}: distilled files need beamsim.distill.load, which this install lacks") from None
        x, y = load_distilled(path)
        source = str(attrs.get("source_path") or "")
        num_classes = attrs.get("num_classes")
        settings = _settings(attrs, path)
        record = settings.get("dataset")
        if isinstance(record, dict) and record.get("name", "beam") != "beam":
            config = settings.get("config") if isinstance(settings.get("config"), dict) else {}
            if encoding is not None:
                raise ValueError(f"{path} is an image set; --encoding applies to beam maps only")
            return TrainingSet(x=x.float().cpu(), y=y.long().cpu(), source=str(path), kind="distilled",
                               source_sha256=str(attrs.get("source_sha256") or "") or None,
                               num_classes=int(num_classes) if num_classes is not None else None,
                               dataset=record, model=config.get("model"),
                               dsa_strategy=config.get("dsa_strategy"))
        return TrainingSet(x=x.float().cpu(), y=y.long().cpu(), source=str(path), kind="distilled",
                           encoding=file_encoding or encoding or "relative",
                           test_path=Path(source) if source else None,
                           source_sha256=str(attrs.get("source_sha256") or "") or None,
                           num_classes=int(num_classes) if num_classes is not None else None)
    found = f"format {fmt!r}" if fmt else "no 'format' attribute"
    raise DataFileError(f"{path}: cannot train on this file ({found}); expected {DATASET_FORMAT!r} or {DISTILLED_FORMAT!r}")


def _settings(attrs: dict, path: Path) -> dict:
    """The distilled file's ``settings`` attribute (TOML text) as a dict ({} when absent)."""
    import tomllib

    text = attrs.get("settings") or ""
    if isinstance(text, bytes):
        text = text.decode()
    try:
        return tomllib.loads(str(text)) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(f"{path}: the settings attribute is not valid TOML ({exc})") from None


def image_test_set(data) -> TestSet:
    """The test split of a loaded image data set (:class:`beamsim.distill.data.ImageData`)."""
    from beamsim.distill.data.spec import DSA_STRATEGY

    return TestSet(x=data.test.inputs, y=data.test.labels, rsrp=None, mask=None, num_classes=data.num_classes,
                   path=Path(data.spec.source), checksum=data.checksum, image=True,
                   dsa_strategy=DSA_STRATEGY[data.spec.dataset])


def _image_test_set(train: TrainingSet, device: str | torch.device | None = None) -> TestSet:
    """Reload the data set a distilled image file records, refit and check its transform."""
    from beamsim.distill.data.spec import load_image_data, spec_from_settings, verify_settings

    record = train.dataset or {}
    spec = spec_from_settings(record)
    data = load_image_data(spec, device=device)
    verify_settings(data, record, where=train.source)
    return image_test_set(data)


def load_test_set(path: str | Path, encoding: Encoding = "relative", mask_channel: bool | None = None) -> TestSet:
    """The test split of a real data-set file, encoded like the training set.

    Raises:
        DataFileError: the file is missing, not a data set, or has an empty test split.
    """
    path = Path(path)
    ds = BeamDataset(path, split="test", encoding=encoding, mask_channel=mask_channel, redraw_mask=False)
    return TestSet(x=ds.inputs, y=ds.labels, rsrp=ds.rsrp, mask=ds.mask, num_classes=ds.num_classes,
                   path=path, checksum=ds.checksum, observed=ds.observed)


def _mask_channel(train: TrainingSet) -> bool:
    if train.x.ndim != 4:
        raise DataFileError(f"{train.source}: training inputs must be [N, C, H, W], found {list(train.x.shape)}")
    channels = train.x.shape[1]
    if channels not in (1, 2):
        raise DataFileError(f"{train.source}: beam inputs have 1 channel (2 with the mask), found {channels}")
    return channels == 2


def _check_compatible(train: TrainingSet, test: TestSet) -> None:
    if train.is_image and not test.image:
        raise DataFileError(f"{train.source} is an image set; it cannot be tested on the beam data set {test.path}")
    if tuple(train.x.shape[1:]) != tuple(test.x.shape[1:]):
        raise DataFileError(f"test set {test.path} has inputs of shape {list(test.x.shape[1:])}, "
                            f"the training set {list(train.x.shape[1:])}")
    if train.num_classes is not None and train.num_classes != test.num_classes:
        raise DataFileError(f"test set {test.path} has {test.num_classes} classes{'' if test.image else ' (beams)'}, "
                            f"the training set {train.num_classes}")
    if len(train) and (int(train.y.min()) < 0 or int(train.y.max()) >= test.num_classes):
        raise DataFileError(f"training labels lie outside the test set's {test.num_classes} classes")
    if test.image and train.x.ndim != 4:
        raise DataFileError(f"{train.source}: training images must be [N, C, H, W], found {list(train.x.shape)}")


def _mean_std(values: list[float]) -> dict[str, float]:
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std(unbiased=True)) if len(values) > 1 else 0.0
    return {"mean": float(t.mean()), "std": std}


@dataclass
class EvaluationResult:
    """Numbers of one evaluation.

    Attributes:
        model, runs, seed, device: what ran; protocol: the :class:`Protocol` (epochs included).
        train, train_kind, test: where the data came from; encoding: the input encoding.
        train_samples, test_samples, input_shape, num_classes: sizes.
        per_run: the KPIs of every run (fractions in [0, 1], losses in dB).
        reference: the KPIs of the trivial "strongest observed beam" (empty for images).
        seconds_per_run: training wall time of every run [s]; threads: torch CPU threads.
        predictions: [runs, N_test] int64 predicted beams (classes); labels: [N_test] int64;
        rsrp_loss: [runs, N_test] float64 RSRP loss [dB]; reference_rsrp_loss: [N_test]
        (both None for images).
        modality: ``beam`` or ``image``.
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
    modality: Literal["beam", "image"] = "beam"

    @property
    def epochs(self) -> int:
        return self.protocol.epochs

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """``{kpi: {"mean": .., "std": ..}}`` over the runs."""
        return {name: _mean_std([run[name] for run in self.per_run]) for name in self.per_run[0]}

    def to_dict(self) -> dict:
        """One JSON-ready document (plain types only)."""
        doc: dict = dict(self.summary)
        doc.update({
            "model": self.model, "runs": self.runs, "epochs": self.epochs, "seed": self.seed,
            "train": self.train, "train_kind": self.train_kind, "test": self.test, "encoding": self.encoding,
            "train_samples": self.train_samples, "test_samples": self.test_samples,
            "input_shape": list(self.input_shape), "num_classes": self.num_classes,
        })
        if self.modality == "beam":
            doc["reference"] = {"name": "strongest observed beam", **self.reference}
        else:
            doc["modality"] = self.modality
        doc.update({
            "protocol": asdict(self.protocol),
            "device": self.device, "threads": self.threads,
            "seconds_per_run": _mean_std(self.seconds_per_run),
            "per_run": [dict(run, seconds=s) for run, s in zip(self.per_run, self.seconds_per_run)],
        })
        return doc


def prepare(train: str | Path | tuple[torch.Tensor, torch.Tensor] | TrainingSet,
            test: str | Path | TestSet | None = None,
            encoding: Encoding | None = None, *,
            device: str | torch.device | None = None) -> tuple[TrainingSet, TestSet]:
    """Load and cross-check the training and test sets of an evaluation (no training).

    Arguments as in :func:`evaluate`. The test split is encoded like the training set (same
    encoding, mask channel when the training inputs have 2 channels). A distilled image file
    is tested on the test split of the data set it records, transformed as its training
    images were (``device``: where the ZCA transform is refitted).

    Raises:
        DataFileError / ValueError: as :func:`evaluate`.
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
    elif train_set.is_image:
        if test is not None:
            raise ValueError(f"{train_set.source} is an image set: it is tested on the test split of the data set it "
                             f"records ({train_set.dataset.get('name')}); leave --test out")
        test_set = _image_test_set(train_set, device)
    else:
        test_path = Path(test) if test is not None else train_set.test_path
        if test_path is None:
            raise DataFileError(f"{train_set.source} names no source data set to test on; give test= (--test)")
        test_set = load_test_set(test_path, train_set.encoding or "relative",  # type: ignore[arg-type]
                                 mask_channel=_mask_channel(train_set))
        if test is None and train_set.source_sha256 and train_set.source_sha256 != test_set.checksum:
            raise DataFileError(f"{test_path} is not the data set {train_set.source} was made from (sha256 differs); "
                                "give the test file explicitly (--test)")
    _check_compatible(train_set, test_set)
    return train_set, test_set


def default_model(train: TrainingSet, test: TestSet) -> str:
    """The evaluation network: beamcnn for beam maps; for images the network the set was
    distilled with, else ConvNetD3 up to 64 x 64 and ConvNetD5 above."""
    if not test.image:
        return "beamcnn"
    if train.model:
        return train.model
    from beamsim.distill.data.spec import default_model as image_default

    return image_default(int(max(train.x.shape[2:])))


def _augment(name: AugmentName, train: TrainingSet, test: TestSet) -> str:
    """The protocol's augmentation: ``none`` or ``dsa:<strategy>``."""
    if name not in ("auto", "dsa", "none"):
        raise ValueError(f"augment must be 'auto', 'dsa' or 'none', not {name!r}")
    if name == "none" or (name == "auto" and not test.image):
        return "none"
    if not test.image:
        raise ValueError("DSA is for images: beam maps are never augmented (use augment='none' or 'auto')")
    from beamsim.distill.data.augment import DEFAULT_STRATEGY

    return "dsa:" + (train.dsa_strategy or test.dsa_strategy or DEFAULT_STRATEGY)


def evaluate(train: str | Path | tuple[torch.Tensor, torch.Tensor] | TrainingSet,
             test: str | Path | TestSet | None = None, model: str | None = None, runs: int = 5,
             epochs: int | None = None, *,
             device: str | torch.device | None = None, seed: int = 0, encoding: Encoding | None = None,
             batch_size: int = 256, optimizer: OptimizerName = "adamw", lr: float = 1e-3,
             weight_decay: float = 1e-4, label_smoothing: float = 0.1,
             schedule: Literal["cosine", "constant"] = "cosine", precision: Precision = "bf16",
             augment: AugmentName = "auto",
             on_epoch: Callable[[int, int], None] | None = None) -> EvaluationResult:
    """Train ``runs`` fresh networks on ``train`` and test each on a real test split.

    Args:
        train: a data-set or distilled file, tensors ``(x [N, C, 8, 8] float32, y [N] int64)``,
            or a :class:`TrainingSet` from :func:`load_training_set`.
        test: a data-set file whose test split is the test set (or a :class:`TestSet`, e.g.
            :func:`image_test_set`). Default: the training file itself (data-set file) or its
            source data set (distilled file: for an image set, the test split of the data
            set it records); required with tensors.
        model: a name from :func:`beamsim.models.list_models`; None: ``beamcnn`` for beam maps,
            for images the network the set was distilled with (else ConvNetD3, ConvNetD5 above
            64 x 64).
        runs: independent runs (seeds), >= 1.
        epochs: training epochs; None: :func:`default_epochs` of the training-set size.
        device: ``auto`` | ``cpu`` | ``cuda`` (None: the config's).
        seed: base seed; run ``r`` uses seeds derived from ``(seed, r)``.
        encoding: input encoding (default: the distilled file's, else ``relative``); the
            test split is encoded the same way (beam maps only).
        batch_size, optimizer, lr, weight_decay, label_smoothing, schedule, precision: the
            protocol (see the module docstring).
        augment: ``auto`` (DSA for images, none for beam maps), ``dsa`` (images only) or ``none``.
        on_epoch: progress callback ``on_epoch(run, epoch)``.

    Returns:
        an :class:`EvaluationResult` (beam KPIs, or top-1/top-5/macro F1 for images).

    Raises:
        ValueError: runs < 1, unknown model, bad protocol values.
        DataFileError: missing or invalid files, a test set with other classes or input shape.
    """
    if int(runs) < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if model is not None and model not in list_models():
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    dev = resolve_device(device)
    train_set, test_set = prepare(train, test, encoding, device=dev)
    model = model if model is not None else default_model(train_set, test_set)

    protocol = Protocol(epochs=int(epochs) if epochs is not None else default_epochs(len(train_set)),
                        batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
                        label_smoothing=label_smoothing, schedule=schedule, precision=precision,
                        augment=_augment(augment, train_set, test_set))
    augmenter = None
    if protocol.augment != "none":
        from beamsim.distill.data.augment import DSA

        augmenter = DSA(strategy=protocol.augment[4:])
    image_size = tuple(train_set.x.shape[2:])
    per_run: list[dict[str, float]] = []
    seconds: list[float] = []
    predictions, losses = [], []
    for run in range(int(runs)):
        net = get_model(model, train_set.x.shape[1], test_set.num_classes, image_size)
        reset_parameters(net, torch.Generator().manual_seed(derive_seed(seed, "evaluate", run, "init")))
        data_gen = torch.Generator().manual_seed(derive_seed(seed, "evaluate", run, "data"))
        callback = (lambda epoch, _loss, run=run: on_epoch(run, epoch)) if on_epoch is not None else None
        start = time.perf_counter()
        train_model(net, train_set.x, train_set.y, epochs=protocol.epochs, batch_size=protocol.batch_size,
                    lr=protocol.lr, weight_decay=protocol.weight_decay, label_smoothing=protocol.label_smoothing,
                    optimizer=protocol.optimizer, schedule=protocol.schedule, generator=data_gen, device=dev,
                    redraw=train_set.redraw, augment=augmenter, autocast=protocol.precision == "bf16",
                    on_epoch=callback)
        seconds.append(time.perf_counter() - start)
        scores = predict(net, test_set.x, device=dev)
        pred = scores.argmax(dim=1)
        predictions.append(pred)
        if test_set.image:
            per_run.append(image_kpis(scores, test_set.y, ks=tuple(k for k in IMAGE_TOPK if k <= scores.shape[1])))
        else:
            per_run.append(beam_kpis(scores, test_set.y, test_set.rsrp))
            losses.append(rsrp_loss_db(pred, test_set.rsrp))

    common = dict(
        model=model, runs=int(runs), seed=int(seed), device=str(dev), protocol=protocol,
        train=train_set.source, train_kind=train_set.kind, test=str(test_set.path),
        train_samples=len(train_set), test_samples=len(test_set), input_shape=tuple(train_set.x.shape[1:]),
        num_classes=test_set.num_classes, per_run=per_run, seconds_per_run=seconds,
        threads=torch.get_num_threads(), predictions=torch.stack(predictions), labels=test_set.y,
    )
    if test_set.image:
        return EvaluationResult(**common, encoding="", reference={}, rsrp_loss=None, reference_rsrp_loss=None,
                                modality="image")
    reported = test_set.observed if test_set.observed is not None else test_set.rsrp
    ref_scores = observed_scores(reported, test_set.mask)
    reference = beam_kpis(ref_scores, test_set.y, test_set.rsrp)
    return EvaluationResult(
        **common, encoding=train_set.encoding or "relative", reference=reference,
        rsrp_loss=torch.stack(losses), reference_rsrp_loss=rsrp_loss_db(ref_scores.argmax(dim=1), test_set.rsrp),
    )

"""TensorFlow / Keras access to beamsim files: ``tf.data`` pipelines and TFRecord export.

The core of beamsim is PyTorch; this module (``pip install beamsim[tf]``) hands the same model
inputs to TensorFlow. TensorFlow is imported only when one of its functions runs, never by
``import beamsim`` or ``import beamsim.tf``; without it, a call raises
:class:`~beamsim.errors.BackendUnavailableError` saying ``pip install beamsim[tf]``.

Two kinds of file are read (dispatch on the file's ``format`` attribute):

- a data-set file (``beamsim generate``): the inputs are exactly those
  :class:`~beamsim.dataset.BeamDataset` and evaluation feed the PyTorch models
  (:mod:`beamsim.encoding`; same encoding names and default, :data:`~beamsim.dataset.DEFAULT_ENCODING`),
  under the stored masks; ``split`` is ``"train"``, ``"test"`` or ``"all"``;
- a distilled file (``beamsim distill``): decoded by :func:`beamsim.distill.load`, the set of
  an evaluation's training run. It is a training set and has no test split: ``"train"`` and
  ``"all"`` both give the whole set, ``"test"`` is refused (test on the source data set).

Layout: the PyTorch models take ``[N, C, H, W]`` (channels first, NCHW), which is the default
here. Keras' ``Conv2D`` expects channels last (NHWC, ``data_format="channels_last"``): pass
``channels_last=True`` to get ``[N, H, W, C]``. Beam maps are ``H x W = E x A``
(elevation x azimuth beams), ``C`` = 1, or 2 with the measurement mask as second channel.

Random-mask data sets: PyTorch training draws a new mask each time a training sample is read
(:attr:`BeamDataset.redraw_mask <beamsim.dataset.BeamDataset>`); the pipelines here give the
inputs under the stored masks, as evaluation's test split and ``BeamDataset.tensors()`` do.

The TFRecord format (:func:`export_tfrecord`, :func:`feature_spec`, :func:`read_tfrecord`) is
documented in :mod:`beamsim.tf_records`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from beamsim.errors import BackendUnavailableError, DataFileError

if TYPE_CHECKING:
    import tensorflow

    from beamsim.encoding import Encoding

__all__ = ["Arrays", "arrays", "dataset", "export_tfrecord", "feature_spec", "read_tfrecord"]

Split = Literal["train", "test", "all"]
#: The values of ``split``.
SPLITS: tuple[str, ...] = ("train", "test", "all")
#: What the error of a missing TensorFlow tells the user to run.
INSTALL_HINT = "pip install 'beamsim[tf]'"
_DATASET = "beamsim.dataset"
_DISTILLED = "beamsim.distilled"


def import_tensorflow():
    """The ``tensorflow`` module, imported on first use.

    Raises:
        BackendUnavailableError: TensorFlow is not installed or cannot be imported (the
            message names the reason and ``pip install beamsim[tf]``).
    """
    try:
        import tensorflow
    except ImportError as exc:
        raise BackendUnavailableError(f"beamsim.tf needs TensorFlow, which cannot be imported ({exc}); "
                                      f"install the extra: {INSTALL_HINT}") from None
    return tensorflow


@dataclass(frozen=True)
class Arrays:
    """The (input, label) pairs of a file, as numpy arrays (what :func:`dataset` slices).

    Attributes:
        x: [N, C, H, W] float32 model inputs in [0, 1] (``[N, H, W, C]`` with ``channels_last``).
        y: [N] int64 labels (beam maps: the best beam, ``el * A + az``).
        num_classes: classes the labels index (beam maps: E * A).
        encoding: the input encoding (``relative`` / ``attenuation``); ``""`` for image sets.
        kind: ``"dataset"`` or ``"distilled"``.
        channels_last: whether ``x`` is NHWC.
        source: the file.
        split: the split the rows come from.
    """

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    encoding: str
    kind: Literal["dataset", "distilled"]
    channels_last: bool
    source: Path
    split: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input: (C, H, W), or (H, W, C) with ``channels_last``."""
        return tuple(self.x.shape[1:])


def file_kind(path: str | Path) -> Literal["dataset", "distilled"]:
    """``"dataset"`` or ``"distilled"``, from the file's ``format`` attribute.

    Raises:
        DataFileError: missing file, not HDF5, or neither format.
    """
    from beamsim.dataset import read_attrs

    fmt = str(read_attrs(path).get("format", ""))
    if fmt == _DATASET:
        return "dataset"
    if fmt == _DISTILLED:
        return "distilled"
    found = f"format {fmt!r}" if fmt else "no 'format' attribute"
    raise DataFileError(f"{path}: not a beamsim data set or distilled file ({found}; "
                        f"expected {_DATASET!r} or {_DISTILLED!r})")


def check_split(split: str) -> None:
    """Raise ValueError unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")


def arrays(path: str | Path, split: Split = "train", encoding: Encoding | None = None, *,
           mask_channel: bool | None = None, channels_last: bool = False) -> Arrays:
    """The model inputs and labels of a data-set or distilled file, as numpy (no TensorFlow).

    Args:
        path: a data-set file (``beamsim generate``) or a distilled file (``beamsim distill``).
        split: ``"train"``, ``"test"`` or ``"all"``. A distilled file is a training set:
            ``"train"`` and ``"all"`` give all of it, ``"test"`` raises.
        encoding: input encoding of a data set (default
            :data:`~beamsim.dataset.DEFAULT_ENCODING`); a distilled file is read with the
            encoding it records, and a different value raises.
        mask_channel: data sets only: add the mask as a second channel (default: on for
            random-mask files, as :class:`~beamsim.dataset.BeamDataset`).
        channels_last: give ``[N, H, W, C]`` (Keras' default) instead of ``[N, C, H, W]``.

    Returns:
        :class:`Arrays`: inputs float32, labels int64, in file order (distilled: grouped by class).

    Raises:
        DataFileError: missing file, not a beamsim file, invalid content, an empty split, the
            test split of a distilled file.
        ValueError: an unknown split or encoding, an encoding that contradicts the distilled
            file's, ``mask_channel`` for a distilled file.
    """
    check_split(split)
    path = Path(path)
    kind = file_kind(path)
    if kind == "dataset":
        from beamsim.dataset import DEFAULT_ENCODING, BeamDataset

        ds = BeamDataset(path, split=split, encoding=encoding or DEFAULT_ENCODING, mask_channel=mask_channel,
                         redraw_mask=False)
        x, y, num_classes, used = ds.inputs.numpy(), ds.labels.numpy(), ds.num_classes, ds.encoding
    else:
        if split == "test":
            raise DataFileError(f"{path}: a distilled file is a training set and has no test split; use split='train' "
                                "(or 'all', the same rows), and test on its source data set with split='test'")
        if mask_channel is not None:
            raise ValueError(f"{path}: a distilled file's inputs are stored with their channels; "
                             "leave mask_channel out")
        from beamsim.experiments.loaders import load_training_set  # calls beamsim.distill.load

        train = load_training_set(path, encoding)
        num_classes = train.num_classes if train.num_classes is not None else int(train.y.max()) + 1
        x, y, used = train.x.numpy(), train.y.numpy(), train.encoding or ""
    x = np.ascontiguousarray(np.moveaxis(x, 1, -1) if channels_last else x, dtype=np.float32)
    return Arrays(x=x, y=np.ascontiguousarray(y, dtype=np.int64), num_classes=int(num_classes), encoding=str(used),
                  kind=kind, channels_last=channels_last, source=path, split=split)


def dataset(path: str | Path, split: Split = "train", encoding: Encoding | None = None, *,
            mask_channel: bool | None = None, channels_last: bool = False, batch_size: int | None = None,
            shuffle: bool = False, seed: int = 0) -> "tensorflow.data.Dataset":
    """A data-set or distilled file as a ``tf.data.Dataset`` of (input, label) pairs.

    The arrays are those of :func:`arrays`, held in memory. Keras' ``Conv2D`` wants
    ``channels_last=True``.

    Args:
        path: a data-set or distilled file.
        split: ``"train"``, ``"test"`` or ``"all"`` (a distilled file: ``"train"`` or ``"all"``).
        encoding: input encoding of a data set (None: the default; a distilled file's own).
        mask_channel: data sets only: add the mask as a second channel (None: as the file's mask kind).
        channels_last: give [H, W, C] inputs instead of [C, H, W].
        batch_size: batch the pairs (the last batch may be smaller); None: one pair per element.
        shuffle: shuffle the rows over the whole set, anew on each pass (each Keras epoch).
        seed: the shuffle's seed: the same seed gives the same sequence of orders in every
            process (TensorFlow combines it with its global seed when one is set with
            ``tf.random.set_seed``). No global random state is touched.

    Returns:
        ``tf.data.Dataset`` of (input [C, H, W] or [H, W, C] float32, label [] int64); with
        ``batch_size``, (inputs [b, ...] float32, labels [b] int64).

    Raises:
        BackendUnavailableError: TensorFlow is not installed (``pip install beamsim[tf]``).
        DataFileError / ValueError: as :func:`arrays`; ValueError for a batch size below 1.
    """
    tf = import_tensorflow()
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, not {batch_size!r}")
    data = arrays(path, split, encoding, mask_channel=mask_channel, channels_last=channels_last)
    out = tf.data.Dataset.from_tensor_slices((data.x, data.y))
    if shuffle:
        out = out.shuffle(len(data), seed=int(seed), reshuffle_each_iteration=True)
    if batch_size is not None:
        out = out.batch(int(batch_size))
    return out


from beamsim.tf_records import export_tfrecord, feature_spec, read_tfrecord  # noqa: E402  (uses the helpers above)

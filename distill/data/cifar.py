"""CIFAR-10 and CIFAR-100, "python version", read with a restricted unpickler.

Expected layout (as unpacked from https://www.cs.toronto.edu/~kriz/cifar.html)::

    DATA_ROOT/cifar-10-batches-py/{data_batch_1, ..., data_batch_5, test_batch, batches.meta}
    DATA_ROOT/cifar-100-python/{train, test, meta}

``DATA_ROOT`` may also be the ``cifar-10-batches-py`` / ``cifar-100-python`` folder itself.
Every file is a pickled dict; as the official loader does, it is read with
``encoding="bytes"`` (the files were written by Python 2, so keys come back as bytes).
A batch holds ``b"data"``: uint8 [N, 3072] (1,024 red, then green, then blue values of a
32 x 32 image, row-major) and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100).

Pickle runs code by design: a file's globals name callables that the loader calls. The
:class:`RestrictedUnpickler` resolves only the three globals a numpy array needs
(``numpy.core.multiarray._reconstruct`` (``numpy._core`` in numpy 2), ``numpy.ndarray``,
``numpy.dtype``) and refuses every other one with a :class:`~beamsim.errors.DataFileError`,
so a crafted file cannot run ``os.system`` or anything else.

Before a file is unpickled its size is checked against the read bound
(:func:`beamsim.h5safe.max_read_bytes`, ``BEAMSIM_MAX_READ_BYTES``, 4 GiB by default; the
largest CIFAR file, CIFAR-100's ``train``, is 150 MiB), and it is read whole into memory and
unpickled from there, so a length the pickle declares cannot make the reader allocate more
than the file holds. A batch is then checked: a dict with ``data`` (uint8 [N, 3072]) and
integer labels, one per image, each below the number of classes.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from beamsim.distill.data.raw import RawImages, RawSplit, checksum
from beamsim.errors import DataFileError
from beamsim.h5safe import MAX_READ_BYTES_ENV, format_bytes, max_read_bytes

__all__ = ["RestrictedUnpickler", "safe_load_pickle", "load_cifar", "CIFAR_LAYOUT"]

#: The expected folder layout, for error messages.
CIFAR_LAYOUT = {
    "cifar10": "DIR/cifar-10-batches-py/{data_batch_1..data_batch_5, test_batch, batches.meta}",
    "cifar100": "DIR/cifar-100-python/{train, test, meta}",
}
_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def _reconstruct() -> Any:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


#: (module, name) -> the object it stands for; nothing else is resolved.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy array reconstruction (see the module docstring).

    Plain containers and scalars (dict, list, bytes, str, int, float) need no globals and
    load as usual; any other global raises :class:`~beamsim.errors.DataFileError`.
    """

    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise DataFileError(f"refusing to load {module}.{name}: the pickle names a global that "
                                "CIFAR files never need (only numpy arrays are allowed)")
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise DataFileError("refusing a pickle with persistent ids (CIFAR files have none)")


def _read_bounded(path: Path) -> bytes:
    """The bytes of ``path``, refused when the file is larger than :func:`max_read_bytes`."""
    bound = max_read_bytes()
    try:
        size = os.stat(path).st_size
        if size > bound:
            raise DataFileError(f"{path}: {format_bytes(size)}, more than the read bound {format_bytes(bound)} "
                                f"({MAX_READ_BYTES_ENV}); a CIFAR file is at most 150 MiB: replace it with the "
                                f"official file, or raise {MAX_READ_BYTES_ENV} if it is genuine")
        with open(path, "rb") as handle:
            data = handle.read(bound + 1)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > bound:  # it grew since the check
        raise DataFileError(f"{path}: more than the read bound {format_bytes(bound)} ({MAX_READ_BYTES_ENV})")
    return data


def safe_load_pickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` and ``encoding="bytes"``.

    The file is read whole first (refused above :func:`~beamsim.h5safe.max_read_bytes`).

    Raises:
        DataFileError: too large, unreadable, not a pickle, or a refused global (the message
            names the file; no code in it ran).
    """
    data = _read_bounded(path)
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataFileError as exc:
        raise DataFileError(f"{path}: {exc}; it was not loaded and nothing in it ran: replace it with the "
                            "official CIFAR file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            UnicodeDecodeError, MemoryError, RecursionError, KeyError) as exc:
        raise DataFileError(f"{path}: not a readable CIFAR pickle ({type(exc).__name__}: {str(exc)[:120]}); replace it "
                            "with the official CIFAR file") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _plain_keys(obj: Any, path: Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataFileError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _names(values: Any, path: Path, key: str) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise DataFileError(f"{path}: {key!r} must be a list of class names")
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def _batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 [N, 3, 32, 32], labels int64 [N]) of one batch file."""
    record = _plain_keys(safe_load_pickle(path), path)
    if "data" not in record or label_key not in record:
        raise DataFileError(f"{path}: a CIFAR batch needs the keys 'data' and {label_key!r}; "
                            f"found {sorted(record)}")
    data = record["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = list(data.shape) if isinstance(data, np.ndarray) else type(data).__name__
        raise DataFileError(f"{path}: 'data' must be uint8 [N, 3072], found {shape}")
    try:
        labels = np.asarray(record[label_key])
    except (TypeError, ValueError):
        labels = np.asarray(None)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise DataFileError(f"{path}: {label_key!r} must be a list of integers, one per image")
    labels = labels.astype(np.int64)
    if labels.shape[0] != data.shape[0]:
        raise DataFileError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataFileError(f"{path}: labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def _folder(root: Path, which: Literal["cifar10", "cifar100"]) -> Path:
    layout = f"expected {CIFAR_LAYOUT[which]} (the CIFAR 'python version')"
    if not root.is_dir():
        raise DataFileError(f"--data-root {root}: no such folder; {layout}")
    folder = root if root.name == _FOLDER[which] else root / _FOLDER[which]
    if not folder.is_dir():
        raise DataFileError(f"--data-root {root}: no {_FOLDER[which]}/ folder in it; {layout}")
    files = (["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)] if which == "cifar10"
             else ["meta", "train", "test"])
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise DataFileError(f"--data-root {root}: {folder / missing[0]} is missing; {layout}")
    return folder


def load_cifar(root: str | Path, which: Literal["cifar10", "cifar100"] = "cifar10") -> RawImages:
    """CIFAR-10 (10 classes) or CIFAR-100 (100 fine classes) as [N, 3, 32, 32] float32 in [0, 1].

    Raises:
        DataFileError: a missing file or folder (the message names the expected layout), a
            malformed batch, or a pickle that names anything but numpy arrays.
    """
    if which not in _FOLDER:
        raise ValueError(f"unknown CIFAR variant {which!r}: use cifar10 or cifar100")
    root = Path(root).expanduser()
    folder = _folder(root, which)
    if which == "cifar10":
        meta = _plain_keys(safe_load_pickle(folder / "batches.meta"), folder / "batches.meta")
        names = _names(meta.get("label_names"), folder / "batches.meta", "label_names")
        parts = [_batch(folder / f"data_batch_{i}", "labels", len(names)) for i in range(1, 6)]
        train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        test = _batch(folder / "test_batch", "labels", len(names))
    else:
        meta = _plain_keys(safe_load_pickle(folder / "meta"), folder / "meta")
        names = _names(meta.get("fine_label_names"), folder / "meta", "fine_label_names")
        train = _batch(folder / "train", "fine_labels", len(names))
        test = _batch(folder / "test", "fine_labels", len(names))

    def split(pixels: np.ndarray, labels: np.ndarray) -> RawSplit:
        return RawSplit(torch.from_numpy(pixels.astype(np.float32) / 255.0), torch.from_numpy(labels))

    return RawImages(train=split(*train), test=split(*test), class_names=names,
                     checksum=checksum(which, train[0], train[1]))

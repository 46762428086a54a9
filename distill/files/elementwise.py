"""The element-wise layout the quantized and float32 codecs share (not a codec itself).

Rows are stored grouped by class (a stable sort by label) with per-class counts; each sample
is ``d`` elements, and elements constant across the whole set are stored once, not per
sample::

    /counts          int32   [C]        samples per class
    /<payload>                          the v = d - k varying elements of every sample
                                        (the codec's: float32 /x [N, v] or packed /codes)
    /<constants>     [k]                their values, once (only when k > 0)
    /constant_mask   bool    [*shape]   True = constant across the set (only when k > 0)
    /alpha           float32 [...]      thresholds ([0] when the codec has none)
    /quantizer/<k>   float32 [...]      further decode parameters
    header attrs: quantizer, bits, signed, levels (the codec's), input_shape, num_samples,
                  num_classes
    accounting attrs: payload_bits (N d b), payload_bits_stored (N v b), overhead_bits

:func:`group_rows` validates and sorts what a writer is given, :func:`write_elementwise`
writes it through the frame, :func:`header_of` and :func:`layout_schema` give the part of a
codec's schema the layout fixes (before any data is read), :func:`check_layout` validates what
the codecs share on reading and :func:`describe_elementwise` is the description both report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim.distill.bits import overhead_bits, payload_bits
from beamsim.distill.files.frame import Frame, check_counts, count_attr, described_sizes, int_attr, write_frame
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["FLOAT_QUANTIZER", "Rows", "group_rows", "write_elementwise", "Header", "header_of", "layout_schema",
           "Layout", "check_layout", "fill", "describe_elementwise"]

#: The ``quantizer`` attribute of a full-precision (float32) set.
FLOAT_QUANTIZER = "none"


@dataclass(frozen=True)
class Rows:
    """A set ready to store: rows grouped by class.

    Attributes:
        x: [N, *shape] float tensor, rows grouped by class (a stable sort by label).
        counts: [C] int32 samples per class.
        num_classes: ``C``.
        shape: the sample shape.
    """

    x: torch.Tensor
    counts: np.ndarray
    num_classes: int
    shape: tuple[int, ...]

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        """Elements per sample."""
        return int(np.prod(self.shape))


def _labels(y: torch.Tensor | np.ndarray | Sequence[int], n: int, num_classes: int | None) -> tuple[np.ndarray, int]:
    y = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape [{n}] (one per sample), got {list(y.shape)}")
    if n and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {y.dtype}")
    y = y.astype(np.int64)
    if n and y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    top = int(y.max()) + 1 if n else 0
    if num_classes is None:
        num_classes = top
    elif num_classes < top:
        raise ValueError(f"num_classes={num_classes} but a label is {top - 1}; raise num_classes")
    return y, int(num_classes)


def group_rows(x: torch.Tensor, y: torch.Tensor | Sequence[int], num_classes: int | None = None,
               class_names: Sequence[str] | None = None) -> Rows:
    """Validate a set and group its rows by class.

    Args:
        x: [N, *shape] float tensor, N >= 1, finite.
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: ``C`` (default ``max(y) + 1``); classes may have zero samples.
        class_names: ``C`` names, only checked here.

    Raises:
        ValueError: inconsistent shapes, labels or names, non-finite values.
    """
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2:
        raise ValueError("x must be a float tensor [N, *sample_shape]")
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("x has no samples: a distilled set needs at least one")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    labels, num_classes = _labels(y, n, num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {num_classes} classes")
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=num_classes).astype(np.int32)
    shape = tuple(int(s) for s in x.shape[1:])
    return Rows(x=x.detach()[torch.as_tensor(order, device=x.device)], counts=counts, num_classes=num_classes,
                shape=shape)


def write_elementwise(path: str | Path, rows: Rows, values: np.ndarray, *, payload: str,
                      store: Callable[[np.ndarray], np.ndarray], constants: str, constant_dtype: type,
                      header: Mapping[str, Any], bits: int, decode_arrays: Mapping[str, np.ndarray] | None = None,
                      config: str = "", provenance: Provenance, settings: Mapping[str, Any] | None = None,
                      class_names: Sequence[str] | None = None, constants_once: bool = True) -> None:
    """Write rows in the element-wise layout (module docstring).

    Args:
        path: output file.
        rows: the set, grouped by class (:func:`group_rows`).
        values: [N, d] what is stored per element (float32 values or integer codes).
        payload: name of the payload array; ``store(varying [N, v]) -> array`` makes it.
        constants: name of the array of constant elements, stored as ``constant_dtype``.
        header: the codec's attributes: quantizer, bits, signed, levels.
        bits: bits per stored element (for the accounting).
        decode_arrays: ``alpha`` (thresholds; [0] when absent) and further decode parameters
            (stored as ``quantizer/<key>``), all counted as 32-bit overhead.
        config, provenance, settings, class_names: see :func:`~.frame.write_frame`.
        constants_once: store elements that are constant across the whole set once.
    """
    n, d = rows.n, rows.d
    constant = (values == values[:1]).all(axis=0) if constants_once else np.zeros(d, dtype=bool)
    k = int(constant.sum())
    state = dict(decode_arrays or {})
    arrays: dict[str, np.ndarray] = {"counts": rows.counts, payload: store(values[:, ~constant])}
    if k:
        arrays[constants] = values[0, constant].astype(constant_dtype)
        arrays["constant_mask"] = constant.reshape(rows.shape)
    arrays["alpha"] = state.pop("alpha", np.zeros(0, dtype=np.float32))
    for key, value in state.items():
        arrays[f"quantizer/{key}"] = value
    num_params = sum(v.size for key, v in arrays.items() if key == "alpha" or key.startswith("quantizer/"))
    header = {**header, "input_shape": np.array(rows.shape, dtype=np.int64), "num_samples": n,
              "num_classes": rows.num_classes}
    accounting = {
        "payload_bits": payload_bits(n, d, bits),
        "payload_bits_stored": payload_bits(n, d - k, bits),
        "overhead_bits": overhead_bits(num_params, rows.num_classes, n, labels="counts", constant_elements=k,
                                       elements_per_sample=d, bits=bits),
    }
    write_frame(path, arrays, payload=payload, header=header, provenance=provenance, accounting=accounting,
                config=config, settings=settings, class_names=class_names)


@dataclass(frozen=True)
class Header:
    """The counts a file's header attributes and declared shapes give, before any data is read
    (None where an attribute is missing or malformed: the codec's checks then name it).

    Attributes:
        n: ``num_samples``; num_classes: ``num_classes``; shape: ``input_shape``.
        k: constant elements (the declared length of the constants array, 0 without one).
    """

    n: int | None
    num_classes: int | None
    shape: tuple[int, ...] | None
    k: int | None

    @property
    def varying(self) -> int | None:
        """``v = d - k``, elements stored per sample."""
        if self.shape is None or self.k is None:
            return None
        d = int(np.prod(self.shape))
        return d - self.k if d >= self.k else None

    def stored(self) -> int | None:
        """``N v``, elements stored in the payload."""
        v = self.varying
        return None if v is None or self.n is None else self.n * v


def header_of(attrs: Mapping[str, Any], entries: Mapping[str, Declared], constants: str) -> Header:
    """:class:`Header` of a file from its attributes and its datasets as declared."""
    raw = attrs.get("input_shape")
    shape = tuple(int(s) for s in raw) if isinstance(raw, list) and raw and all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in raw) else None
    declared = entries.get(constants)
    k = 0 if declared is None else declared.shape[0] if len(declared.shape) == 1 else None
    return Header(n=count_attr(attrs, "num_samples"), num_classes=count_attr(attrs, "num_classes"), shape=shape, k=k)


def layout_schema(header: Header, constants: str, constant: Array) -> dict[str, Array]:
    """The arrays every element-wise (and patch) file holds besides its payload: ``/counts``
    [C], ``/constant_mask`` [*shape] and the constants [k] (``constant``: their dtype kinds and
    values; the shape is set here)."""
    return {
        "counts": Array("iu", shape=(header.num_classes,), low=0, high=header.n, meaning="samples per class",
                        implied_by=f"num_classes = {header.num_classes}"),
        "constant_mask": Array("b", shape=header.shape, implied_by=f"input_shape = {list(header.shape or [])}"),
        constants: replace(constant, shape=(header.k,)),
    }


@dataclass(frozen=True)
class Layout:
    """What an element-wise file's attributes and arrays say about its rows.

    Attributes:
        n: samples; num_classes: ``C``; shape: sample shape.
        mask: [d] bool, True = constant element; k: constant elements.
    """

    n: int
    num_classes: int
    shape: tuple[int, ...]
    mask: np.ndarray
    k: int

    @property
    def d(self) -> int:
        return int(np.prod(self.shape))


def check_layout(frame: Frame, payload: str, constants: str) -> Layout:
    """Check what both element-wise codecs share: the arrays present, sample count and shape,
    class counts, the constant mask and its values (the payload itself is the codec's).

    Raises:
        DataFileError: each message says what does not add up.
    """
    where, attrs, arrays = frame.where, frame.attrs, frame.arrays
    missing = [key for key in (payload, "counts", "alpha") if key not in arrays]
    if missing:
        raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
    n = int_attr(attrs, "num_samples", where)
    num_classes = int_attr(attrs, "num_classes", where)
    shape = tuple(int(s) for s in attrs.get("input_shape", []))
    if n < 1 or not shape or min(shape) < 1:
        raise DataFileError(f"{where}: num_samples {n} and input_shape {list(shape)} must be positive")
    check_counts(arrays["counts"], num_classes, n, where)
    if "constant_mask" in arrays:
        mask = arrays["constant_mask"]
        if mask.shape != shape or mask.dtype != np.bool_:
            raise DataFileError(f"{where}: /constant_mask must be bool of shape {list(shape)}")
    else:
        mask = np.zeros(shape, dtype=bool)
    k = int(mask.sum())
    if k and arrays.get(constants, np.zeros(0)).shape != (k,):
        raise DataFileError(f"{where}: /{constants} must hold one value per constant element ({k})")
    return Layout(n=n, num_classes=num_classes, shape=shape, mask=mask.reshape(-1), k=k)


def fill(layout: Layout, varying: np.ndarray, constant_values: np.ndarray | None, dtype: type) -> np.ndarray:
    """[N, *shape] of ``dtype``: the varying elements [N, v] and the constants [k] put back."""
    flat = np.empty((layout.n, layout.d), dtype=dtype)
    flat[:, ~layout.mask] = varying.reshape(layout.n, layout.d - layout.k)
    if layout.k:
        flat[:, layout.mask] = constant_values
    return flat.reshape((layout.n, *layout.shape))


def describe_elementwise(frame: Frame, layout: Layout) -> dict:
    """The description of a checked element-wise file (see :func:`~.codec.describe`)."""
    attrs = frame.attrs
    payload_papers, payload_stored = int(attrs["payload_bits"]), int(attrs["payload_bits_stored"])
    overhead = int(attrs["overhead_bits"])
    return {
        "path": str(frame.path),
        "format": attrs["format"],
        "format_version": attrs["format_version"],
        "quantizer": attrs["quantizer"],
        "bits": int(attrs["bits"]),
        "signed": bool(attrs.get("signed", False)),
        "levels": attrs.get("levels", ""),
        "input_shape": list(layout.shape),
        "num_samples": int(attrs["num_samples"]),
        "num_classes": int(attrs["num_classes"]),
        "samples_per_class": [int(c) for c in frame.arrays["counts"]],
        "class_names": attrs.get("class_names"),
        "elements_per_sample": layout.d,
        "constant_elements": layout.k,
        "payload_bits": payload_papers,
        "payload_bits_stored": payload_stored,
        "overhead_bits": overhead,
        "total_bits_stored": payload_stored + overhead,
        **described_sizes(frame.path, attrs, layout.d, payload_stored + overhead, payload_papers),
    }

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
    /label_classes   uint8   [ceil(N k c / 8)]  soft labels (optional): the k classes kept per
    /label_codes     uint8   [ceil(N k b / 8)]  sample at c = ceil(log2 C) bits, their b-bit codes
    header attrs: quantizer, bits, signed, levels (the codec's), input_shape, num_samples,
                  num_classes, label_topk (k) and label_bits (b) (with soft labels only)
    accounting attrs: payload_bits (N d b), payload_bits_stored (N v b), overhead_bits,
                      label_bits_stored (N k (c + b), with soft labels only)

:func:`group_rows` validates and sorts what a writer is given, :func:`write_elementwise`
writes it through the frame, :func:`header_of` and :func:`layout_schema` give the part of a
codec's schema the layout fixes (before any data is read), :func:`check_layout` validates what
the codecs share on reading and :func:`describe_elementwise` is the description both report.
:func:`label_schema` and :func:`soft_labels_of` do so for the soft labels (:mod:`..labels`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim.distill.bits import overhead_bits, payload_bits
from beamsim.distill.files.frame import FIX, Frame, check_counts, count_attr, described_sizes, int_attr, write_frame
from beamsim.distill.labels import SoftLabels, check_codes, class_bits, label_bits
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["FLOAT_QUANTIZER", "Rows", "group_rows", "write_elementwise", "Header", "header_of", "layout_schema",
           "Layout", "check_layout", "fill", "describe_elementwise", "LABEL_ARRAYS", "label_schema",
           "soft_labels_of"]

#: The ``quantizer`` attribute of a full-precision (float32) set.
FLOAT_QUANTIZER = "none"
#: The soft-label arrays and the header attributes that come with them.
LABEL_ARRAYS = ("label_classes", "label_codes")
LABEL_ATTRS = ("label_topk", "label_bits")
#: Most classes soft labels can name (class indices are packed at up to 8 bits).
MAX_LABEL_CLASSES = 256


@dataclass(frozen=True)
class Rows:
    """A set ready to store: rows grouped by class.

    Attributes:
        x: [N, *shape] float tensor, rows grouped by class (a stable sort by label).
        counts: [C] int32 samples per class.
        num_classes: ``C``.
        shape: the sample shape.
        soft: the soft labels in the stored row order (None without).
    """

    x: torch.Tensor
    counts: np.ndarray
    num_classes: int
    shape: tuple[int, ...]
    soft: SoftLabels | None = None

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


def _check_soft(soft: SoftLabels, n: int, num_classes: int) -> None:
    """Raise ValueError unless ``soft`` can be stored with a set of ``n`` rows and ``C`` classes."""
    if not isinstance(soft, SoftLabels) or not all(torch.is_tensor(t) and t.ndim == 2 and not (
            t.is_floating_point() or t.is_complex() or t.dtype == torch.bool) for t in (soft.classes, soft.codes)):
        raise ValueError("soft must be SoftLabels with integer tensors classes and codes [N, k] (SoftLabels.of)")
    bits, k = soft.bits, soft.top_k
    if soft.classes.shape[0] != n or soft.num_classes != num_classes:
        raise ValueError(f"soft labels of {int(soft.classes.shape[0])} rows over {soft.num_classes} classes do not "
                         f"fit the set's {n} samples of {num_classes} classes")
    if num_classes > MAX_LABEL_CLASSES:
        raise ValueError(f"soft labels can be stored for at most {MAX_LABEL_CLASSES} classes, not {num_classes}")
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not (1 <= bits <= 8 and
                                                                                 1 <= k <= num_classes):
        raise ValueError(f"soft labels: bits = {bits!r} and top_k = {k} must be integers in 1..8 and 1..{num_classes}")
    problem = check_codes(soft.classes, soft.codes, num_classes, bits)
    if problem is not None:
        raise ValueError(f"soft labels: {problem}")


def group_rows(x: torch.Tensor, y: torch.Tensor | Sequence[int], num_classes: int | None = None,
               class_names: Sequence[str] | None = None, soft: SoftLabels | None = None) -> Rows:
    """Validate a set and group its rows by class.

    Args:
        x: [N, *shape] float tensor, N >= 1, finite.
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: ``C`` (default ``max(y) + 1``); classes may have zero samples.
        class_names: ``C`` names, only checked here.
        soft: soft labels of the rows, in the order of ``x`` (reordered with them).

    Raises:
        ValueError: inconsistent shapes, labels, names or soft labels, non-finite values.
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
    if soft is not None:
        _check_soft(soft, n, num_classes)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=num_classes).astype(np.int32)
    shape = tuple(int(s) for s in x.shape[1:])
    soft = None if soft is None else soft.rows(torch.as_tensor(order, device=soft.classes.device))
    return Rows(x=x.detach()[torch.as_tensor(order, device=x.device)], counts=counts, num_classes=num_classes,
                shape=shape, soft=soft)


def write_elementwise(path: str | Path, rows: Rows, values: np.ndarray, *, payload: str,
                      store: Callable[[np.ndarray], np.ndarray], constants: str, constant_dtype: type,
                      header: Mapping[str, Any], bits: int, decode_arrays: Mapping[str, np.ndarray] | None = None,
                      config: str = "", provenance: Provenance, settings: Mapping[str, Any] | None = None,
                      class_names: Sequence[str] | None = None, constants_once: bool = True) -> None:
    """Write rows in the element-wise layout (module docstring).

    Args:
        path: output file.
        rows: the set, grouped by class (:func:`group_rows`); ``rows.soft`` adds the soft labels.
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
    soft = rows.soft
    if soft is not None:
        arrays["label_classes"] = pack_codes(soft.classes, class_bits(soft.num_classes))
        arrays["label_codes"] = pack_codes(soft.codes, soft.bits)
        header.update(label_topk=soft.top_k, label_bits=int(soft.bits))
        accounting["label_bits_stored"] = soft.stored_bits()
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


def label_schema(attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
    """The soft-label arrays a file may hold (no data read): none without soft labels, else
    ``/label_classes`` and ``/label_codes`` of the packed lengths its attributes imply.

    Raises:
        DataFileError: some of the arrays and attributes without the others, or an attribute out
            of range (:func:`~.frame.read_frame` adds the file name).
    """
    present = [f"/{key}" for key in LABEL_ARRAYS if key in entries] + [key for key in LABEL_ATTRS if key in attrs]
    missing = [f"/{key}" for key in LABEL_ARRAYS if key not in entries] + [k for k in LABEL_ATTRS if k not in attrs]
    if not present:
        return {}
    if missing:
        raise DataFileError(f"soft labels are /label_classes and /label_codes with label_topk and label_bits together, "
                            f"but the file has {', '.join(present)} without {', '.join(missing)}")
    n, num_classes = count_attr(attrs, "num_samples"), count_attr(attrs, "num_classes")
    k, bits = count_attr(attrs, "label_topk"), count_attr(attrs, "label_bits")
    if None in (num_classes, k, bits) or not (1 <= k <= num_classes <= MAX_LABEL_CLASSES and 1 <= bits <= 8):
        raise DataFileError(f"label_topk = {attrs['label_topk']!r} and label_bits = {attrs['label_bits']!r} must be "
                            f"integers in 1..num_classes ({attrs.get('num_classes')!r}, at most "
                            f"{MAX_LABEL_CLASSES}) and 1..8")
    return {key: Array("u", shape=(None if n is None else packed_size(n * k, at),), unit="bytes",
                       implied_by=f"{n} samples, label_topk = {k} at {at} bits")
            for key, at in (("label_classes", class_bits(num_classes)), ("label_codes", bits))}


def soft_labels_of(frame: Frame, layout: Layout) -> SoftLabels | None:
    """The soft labels of a checked element-wise file (rows in file order), None without.

    Raises:
        DataFileError: the arrays, their codes or ``label_bits_stored`` do not add up.
    """
    where, attrs, arrays = frame.where, frame.attrs, frame.arrays
    if "label_codes" not in arrays:
        return None
    n, num_classes = layout.n, layout.num_classes
    k, bits = int_attr(attrs, "label_topk", where), int_attr(attrs, "label_bits", where)
    if any(arrays[key].dtype != np.uint8 for key in LABEL_ARRAYS):  # the schema held their lengths
        raise DataFileError(f"{where}: /label_classes and /label_codes must be uint8 (packed codes); {FIX}")
    classes, codes = (torch.from_numpy(unpack_codes(arrays[key], at, n * k).astype(np.int64).reshape(n, k))
                      for key, at in zip(LABEL_ARRAYS, (class_bits(num_classes), bits)))
    soft = SoftLabels(classes, codes, bits, num_classes)
    problem = check_codes(soft.classes, soft.codes, num_classes, bits)
    if problem is not None:
        raise DataFileError(f"{where}: label codes: {problem}; {FIX}")
    if attrs.get("label_bits_stored") != soft.stored_bits():
        raise DataFileError(f"{where}: label_bits_stored = {attrs.get('label_bits_stored')!r}, but {n} samples of "
                            f"{label_bits(num_classes, k, bits)}-bit labels take {soft.stored_bits()}; {FIX}")
    return soft


def describe_elementwise(frame: Frame, layout: Layout) -> dict:
    """The description of a checked element-wise file (see :func:`~.codec.describe`); soft labels
    add ``label_topk``, ``label_bits`` and ``label_bits_stored``, counted in the stored bits."""
    attrs = frame.attrs
    payload_papers, payload_stored = int(attrs["payload_bits"]), int(attrs["payload_bits_stored"])
    overhead = int(attrs["overhead_bits"])
    soft = soft_labels_of(frame, layout)
    labels = {} if soft is None else {"label_topk": soft.top_k, "label_bits": soft.bits,
                                      "label_bits_stored": soft.stored_bits()}
    total = payload_stored + overhead + labels.get("label_bits_stored", 0)
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
        **labels,
        "total_bits_stored": total,
        **described_sizes(frame.path, attrs, layout.d, total, payload_papers),
    }

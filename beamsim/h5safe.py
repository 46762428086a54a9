"""Bounded, schema-first reading of HDF5 files written elsewhere.

A file from another node or tool is hostile until checked. :func:`listed` names a file's
datasets (name, shape, dtype) without reading a byte of data, :func:`check_declared` holds
them against a schema and :func:`declared` does both. Each refuses, with one
:class:`~beamsim.errors.DataFileError` line naming the file, the dataset and the fix:

- a dataset, group or named type not in the caller's schema (a foreign dataset);
- a soft or external link, a dataset with external storage, a virtual dataset (beamsim reads
  only data stored in the file itself);
- a dtype whose kind the schema does not allow;
- a declared shape other than the one the format's attributes imply (:attr:`Array.shape`);
- declared sizes summing to more than the read bound, :func:`max_read_bytes`
  (``BEAMSIM_MAX_READ_BYTES``, default :data:`DEFAULT_MAX_READ_BYTES` = 4 GiB).

:func:`read_checked` then reads the listed datasets. One larger than
:data:`READ_CHUNK_BYTES` is read slice by slice along axis 0 into one preallocated array, and
every slice is checked as it arrives (:attr:`Array.finite`, the value range), so a bad value
is refused before the rest is read and no second full-size array is made.

A schema maps a dataset path to an :class:`Array` (or to a string of allowed numpy dtype kinds,
short for ``Array(kinds)``: ``"f"`` float, ``"i"``/``"u"`` integers, ``"b"`` bool); a key
ending in ``/*`` allows any dataset directly in that group (``"quantizer/*"``).

>>> format_bytes(3 * 2**30)
'3.0 GiB'
>>> Array("f", finite=True, low=0.0).bounds()
'[0.0, inf)'
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from beamsim.errors import DataFileError

__all__ = ["DEFAULT_MAX_READ_BYTES", "MAX_READ_BYTES_ENV", "READ_CHUNK_BYTES", "REWRITE", "Array", "Declared",
           "max_read_bytes", "format_bytes", "listed", "check_declared", "declared", "check_values", "read_checked"]

#: The read bound when ``BEAMSIM_MAX_READ_BYTES`` is not set: 4 GiB of declared array data.
DEFAULT_MAX_READ_BYTES = 4 * 2**30
#: The environment variable that raises (or lowers) the bound, in bytes.
MAX_READ_BYTES_ENV = "BEAMSIM_MAX_READ_BYTES"
#: Datasets larger than this [bytes] are read and checked in slices of about this size along axis 0.
READ_CHUNK_BYTES = 64 * 2**20
#: The fix a refusal names when the caller gives none.
REWRITE = "write the file again with beamsim, or get it again from its source"


@dataclass(frozen=True)
class Array:
    """What a format allows one dataset to be.

    Attributes:
        kinds: allowed numpy dtype kinds (``"f"``, ``"iu"``, ``"b"``, ...).
        shape: the shape the attributes imply (None: any; a None entry: any length on that axis).
        finite: refuse NaN and infinite values (float kinds).
        low, high: inclusive bounds of the values (None: unbounded); ``above``: an exclusive lower
            bound (``above=0.0``: positive).
        meaning: what the values are, for messages ("an RSRP [dBm]", "thresholds").
        fix: what to do about a bad value (None: the caller's fix).
        implied_by: what implies ``shape``, for messages ("num_classes = 10").
        unit: what one element of a 1-D array is ("bytes"): a length mismatch then reads
            "has 5 bytes, expected 8 for <implied_by> (truncated or corrupt)".
    """

    kinds: str
    shape: tuple[int | None, ...] | None = None
    finite: bool = False
    low: float | None = None
    high: float | None = None
    above: float | None = None
    meaning: str = ""
    fix: str | None = None
    implied_by: str = ""
    unit: str = ""

    def bounds(self) -> str:
        """The allowed range as text: ``[low, high]``, ``(above, inf)`` ..."""
        lo = f"({self.above}" if self.above is not None else f"[{self.low}" if self.low is not None else "(-inf"
        return f"{lo}, {'inf)' if self.high is None else f'{self.high}]'}"

    @property
    def ranged(self) -> bool:
        return self.low is not None or self.high is not None or self.above is not None


@dataclass(frozen=True)
class Declared:
    """A dataset as its file declares it (no data read).

    Attributes:
        name: path inside the file (``quantizer/scale``).
        shape: declared shape.
        dtype: declared numpy dtype.
        nbytes: declared size [bytes] (product of the shape times the item size).
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int


Schema = Mapping[str, "str | Array"]


def max_read_bytes() -> int:
    """The read bound [bytes]: ``BEAMSIM_MAX_READ_BYTES`` or :data:`DEFAULT_MAX_READ_BYTES`.

    Raises:
        ValueError: the variable is set but not a positive integer.
    """
    text = os.environ.get(MAX_READ_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_READ_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{MAX_READ_BYTES_ENV}={text!r} is not a positive number of bytes; "
                         f"set it to e.g. {2 * DEFAULT_MAX_READ_BYTES} or unset it")
    return value


def format_bytes(n: int) -> str:
    """``n`` bytes in the largest binary unit that keeps it >= 1 (one decimal)."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def _spec(schema: Schema, name: str) -> Array | None:
    found = schema.get(name)
    if found is None:
        group = name.rpartition("/")[0]
        found = schema.get(f"{group}/*") if group else None
    return Array(found) if isinstance(found, str) else found


def listed(f, where: str) -> dict[str, Declared]:
    """Every dataset of an open HDF5 file, in file order, no data read.

    Raises:
        DataFileError: a soft or external link, a named type, external or virtual storage.
    """
    import h5py

    found: dict[str, Declared] = {}

    def walk(group, prefix: str) -> None:
        for key in group.keys():
            name = f"{prefix}{key}"
            link = group.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                kind = "a soft link" if isinstance(link, h5py.SoftLink) else "an external link"
                raise DataFileError(f"{where}: /{name} is {kind}; beamsim follows no links, it reads only data "
                                    f"stored in the file itself; {REWRITE}")
            obj = group[key]
            if isinstance(obj, h5py.Group):
                walk(obj, f"{name}/")
                continue
            if not isinstance(obj, h5py.Dataset):
                raise DataFileError(f"{where}: /{name} is a {type(obj).__name__}, not an array (a foreign object); "
                                    f"remove it or {REWRITE}")
            if obj.external or obj.is_virtual:
                raise DataFileError(f"{where}: /{name} keeps its data outside the file (external or virtual "
                                    f"storage); beamsim reads only data stored in the file itself; {REWRITE}")
            shape = tuple(int(n) for n in (obj.shape or ()))
            found[name] = Declared(name, shape, obj.dtype, int(np.prod(shape, dtype=object)) * obj.dtype.itemsize)

    walk(f, "")
    return found


def check_declared(entries: Mapping[str, Declared], schema: Schema, where: str, what: str) -> None:
    """Hold listed datasets against ``schema`` (names, dtype kinds, shapes) and the read bound.

    Args:
        entries: from :func:`listed`.
        schema: dataset path -> :class:`Array` or allowed dtype kinds (module docstring).
        where: the file name, for messages.
        what: the format, for messages ("beamsim distilled set").

    Raises:
        DataFileError: foreign dataset, dtype, shape or size over the bound (the message
            names the dataset and the fix).
    """
    for name, entry in entries.items():
        spec, dtype = _spec(schema, name), entry.dtype
        if spec is None:
            raise DataFileError(f"{where}: /{name} is not part of a {what} (a foreign dataset); "
                                f"remove it or {REWRITE}")
        if dtype.kind not in spec.kinds or dtype.fields is not None or dtype.subdtype is not None:
            raise DataFileError(f"{where}: /{name} has dtype {dtype} where a {what} holds "
                                f"{'/'.join(spec.kinds)}-kind numbers; {REWRITE}")
        want = spec.shape
        if want is not None and (len(want) != len(entry.shape)
                                 or any(w is not None and w != s for w, s in zip(want, entry.shape))):
            expected = "[" + ", ".join("*" if w is None else str(w) for w in want) + "]"
            if spec.unit and len(want) == len(entry.shape) == 1:
                raise DataFileError(f"{where}: /{name} has {entry.shape[0]} {spec.unit}, expected {want[0]} for "
                                    f"{spec.implied_by} (truncated or corrupt); nothing was read; {REWRITE}")
            source = f"the header ({spec.implied_by})" if spec.implied_by else "the header"
            raise DataFileError(f"{where}: /{name} declares shape {list(entry.shape)}, but {source} calls for "
                                f"{expected}; nothing was read; the file is truncated, corrupt or edited, {REWRITE}")
    limit = max_read_bytes()
    total = sum(d.nbytes for d in entries.values())
    if total > limit:
        largest = max(entries.values(), key=lambda d: d.nbytes)
        raise DataFileError(
            f"{where}: the arrays declare {format_bytes(total)} (/{largest.name} alone {format_bytes(largest.nbytes)}, "
            f"shape {list(largest.shape)}), more than the read limit of {format_bytes(limit)}; nothing was read; "
            f"if the file is genuine, raise the limit with {MAX_READ_BYTES_ENV}={max(total, limit * 2)}")


def declared(f, schema: Schema | Callable[[Mapping[str, Declared]], Schema], where: str,
             what: str) -> dict[str, Declared]:
    """Every dataset of an open HDF5 file, checked against ``schema`` and the read bound, no
    data read (:func:`listed`, then :func:`check_declared`).

    Args:
        f: an open ``h5py.File``.
        schema: see :func:`check_declared`, or a function of the listed datasets returning
            one (for shapes that depend on other datasets' shapes).
        where, what: the file name and the format, for messages.

    Raises:
        DataFileError: see :func:`listed` and :func:`check_declared`.
    """
    entries = listed(f, where)
    check_declared(entries, schema(entries) if callable(schema) else schema, where, what)
    return entries


def _first(bad: np.ndarray, offset: int) -> list[int]:
    index = [int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape)]
    if index:
        index[0] += offset
    return index


def check_values(name: str, value: np.ndarray, spec: Array | str | None, where: str, *, fix: str = REWRITE,
                 offset: int = 0, rows: int | None = None) -> None:
    """Refuse values ``spec`` does not allow: NaN/infinite (``finite``) and out-of-range ones.

    Args:
        name: the dataset, for the message.
        value: the array or a slice of it along axis 0 (starting at row ``offset``).
        spec: what the dataset may hold (a kinds string or None: anything).
        where: the file name, for the message.
        fix: what to do (unless ``spec.fix`` says).
        offset, rows: where the slice starts and the dataset's rows; the message says how far
            the reading got when the slice is not the whole array.

    Raises:
        DataFileError: one line: file, dataset, how many values are bad, the first, the fix.
    """
    if spec is None or isinstance(spec, str) or not np.size(value):
        return
    value = np.asarray(value)
    fix = spec.fix or fix
    partial = rows is not None and value.ndim and (offset or value.shape[0] < rows)
    scope = f" in rows {offset}-{offset + value.shape[0] - 1} of {rows} (reading stopped there)" if partial else ""
    meaning = f" ({spec.meaning})" if spec.meaning else ""
    if spec.finite and value.dtype.kind in "fc":
        bad = ~np.isfinite(value)
        if bad.any():
            raise DataFileError(f"{where}: /{name}{meaning} holds {int(bad.sum())} NaN or infinite value(s){scope}, "
                                f"the first at index {_first(bad, offset)} (a matching checksum does not make them "
                                f"valid); {fix}")
    if not spec.ranged or value.dtype.kind not in "fiu":
        return
    bad = _outside(value, spec)
    if bad is not None and bad.any():
        first = _first(bad, offset)
        shown = value[tuple([first[0] - offset, *first[1:]])] if first else value[()]
        raise DataFileError(f"{where}: /{name} values must lie in {spec.bounds()}{meaning}; {int(bad.sum())} do not"
                            f"{scope}, the first {shown.item()!r} at index {first}; {fix}")


def _outside(value: np.ndarray, spec: Array) -> np.ndarray | None:
    """Where ``value`` leaves the range (NaN is not out of range here); integers are compared
    in their own dtype, so no wider temporary is made."""
    low, high, above = spec.low, spec.high, spec.above
    if value.dtype.kind in "iu":
        if above is not None:
            low, above = max(-math.inf if low is None else low, math.floor(above) + 1), None
        info = np.iinfo(value.dtype)
        if (low is not None and low > info.max) or (high is not None and high < info.min):
            return np.ones(value.shape, dtype=bool)
        low = None if low is None or low <= info.min else math.ceil(low)
        high = None if high is None or high >= info.max else math.floor(high)
    bad = None
    for limit, outside in ((low, np.less), (high, np.greater), (above, np.less_equal)):
        if limit is not None:
            found = outside(value, limit)
            bad = found if bad is None else np.logical_or(bad, found, out=bad)
    return bad


def read_checked(f, entries: Mapping[str, Declared], where: str, schema: Schema | None = None, *,
                 fix: str = REWRITE) -> dict[str, np.ndarray]:
    """The data of datasets listed by :func:`declared`, in file order, values checked.

    A dataset over :data:`READ_CHUNK_BYTES` is read in slices along axis 0 into one
    preallocated array; each slice is checked (:func:`check_values`) before the next is read.

    Args:
        f: the open ``h5py.File``.
        entries: from :func:`declared`.
        where: the file name, for messages.
        schema: what each dataset may hold (None: no value checks).
        fix: what a refusal of a bad value says to do (unless the :class:`Array` says).

    Raises:
        DataFileError: the data cannot be read (truncated or corrupt file), or a bad value.
    """
    out: dict[str, np.ndarray] = {}
    try:
        for name, entry in entries.items():
            spec = None if schema is None else _spec(schema, name)
            out[name] = _read(f[name], entry, spec, where, fix)
    except OSError as exc:
        raise DataFileError(f"{where}: unreadable array data, the file is truncated or corrupt ({exc})") from None
    return out


def _read(dataset, entry: Declared, spec: Array | None, where: str, fix: str) -> np.ndarray:
    rows = entry.shape[0] if entry.shape else 0
    if entry.nbytes <= READ_CHUNK_BYTES or rows <= 1:
        value = dataset[()]
        check_values(entry.name, value, spec, where, fix=fix)
        return value
    value = np.empty(entry.shape, dtype=entry.dtype)
    step = max(1, READ_CHUNK_BYTES // max(1, entry.nbytes // rows))
    for start in range(0, rows, step):
        part = np.s_[start:min(rows, start + step)]
        dataset.read_direct(value, source_sel=part, dest_sel=part)
        check_values(entry.name, value[part], spec, where, fix=fix, offset=start, rows=rows)
    return value

"""Bounded, schema-first reading of HDF5 files written elsewhere.

A file from another node or tool is hostile until checked. :func:`declared` lists a file's
datasets (name, shape, dtype) without reading a byte of data and refuses, with one
:class:`~beamsim.errors.DataFileError` line naming the file, the dataset and the fix:

- a dataset, group or named type not in the caller's schema (a foreign dataset);
- a soft or external link, a dataset with external storage, a virtual dataset (beamsim reads
  only data stored in the file itself);
- a dtype whose kind the schema does not allow;
- declared sizes summing to more than the read bound, :func:`max_read_bytes`
  (``BEAMSIM_MAX_READ_BYTES``, default :data:`DEFAULT_MAX_READ_BYTES` = 4 GiB).

:func:`read_checked` then reads the listed datasets. A schema maps a dataset path to the numpy
dtype kinds it allows (``"f"`` float, ``"i"``/``"u"`` integers, ``"b"`` bool); a key ending in
``/*`` allows any dataset directly in that group (``"quantizer/*"``).

>>> format_bytes(3 * 2**30)
'3.0 GiB'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from beamsim.errors import DataFileError

__all__ = ["DEFAULT_MAX_READ_BYTES", "MAX_READ_BYTES_ENV", "Declared", "max_read_bytes", "format_bytes",
           "declared", "read_checked"]

#: The read bound when ``BEAMSIM_MAX_READ_BYTES`` is not set: 4 GiB of declared array data.
DEFAULT_MAX_READ_BYTES = 4 * 2**30
#: The environment variable that raises (or lowers) the bound, in bytes.
MAX_READ_BYTES_ENV = "BEAMSIM_MAX_READ_BYTES"


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


def _allowed(schema: Mapping[str, str], name: str) -> str | None:
    if name in schema:
        return schema[name]
    group = name.rpartition("/")[0]
    return schema.get(f"{group}/*") if group else None


def declared(f, schema: Mapping[str, str], where: str, what: str) -> dict[str, Declared]:
    """Every dataset of an open HDF5 file, checked against ``schema`` and the read bound, no
    data read.

    Args:
        f: an open ``h5py.File``.
        schema: dataset path -> allowed dtype kinds (see the module docstring).
        where: the file name, for messages.
        what: the format, for messages ("beamsim distilled set").

    Raises:
        DataFileError: foreign dataset, link, external or virtual storage, dtype or size over
            the bound (the message names the dataset and the fix).
    """
    import h5py

    found: dict[str, Declared] = {}
    rewrite = "write the file again with beamsim, or get it again from its source"

    def walk(group, prefix: str) -> None:
        for key in group.keys():
            name = f"{prefix}{key}"
            link = group.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                kind = "a soft link" if isinstance(link, h5py.SoftLink) else "an external link"
                raise DataFileError(f"{where}: /{name} is {kind}; beamsim follows no links, it reads only data "
                                    f"stored in the file itself; {rewrite}")
            obj = group[key]
            if isinstance(obj, h5py.Group):
                walk(obj, f"{name}/")
                continue
            kinds = _allowed(schema, name)
            if not isinstance(obj, h5py.Dataset) or kinds is None:
                raise DataFileError(f"{where}: /{name} is not part of a {what} (a foreign dataset); "
                                    f"remove it or {rewrite}")
            if obj.external or obj.is_virtual:
                raise DataFileError(f"{where}: /{name} keeps its data outside the file (external or virtual "
                                    f"storage); beamsim reads only data stored in the file itself; {rewrite}")
            dtype = obj.dtype
            if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
                raise DataFileError(f"{where}: /{name} has dtype {dtype} where a {what} holds "
                                    f"{'/'.join(kinds)}-kind numbers; {rewrite}")
            shape = tuple(int(n) for n in (obj.shape or ()))
            found[name] = Declared(name, shape, dtype, int(np.prod(shape, dtype=object)) * dtype.itemsize)

    walk(f, "")
    limit = max_read_bytes()
    total = sum(d.nbytes for d in found.values())
    if total > limit:
        largest = max(found.values(), key=lambda d: d.nbytes)
        raise DataFileError(
            f"{where}: the arrays declare {format_bytes(total)} (/{largest.name} alone {format_bytes(largest.nbytes)}, "
            f"shape {list(largest.shape)}), more than the read limit of {format_bytes(limit)}; nothing was read; "
            f"if the file is genuine, raise the limit with {MAX_READ_BYTES_ENV}={max(total, limit * 2)}")
    return found


def read_checked(f, entries: Mapping[str, Declared], where: str) -> dict[str, np.ndarray]:
    """The data of datasets listed by :func:`declared`, in file order.

    Raises:
        DataFileError: the data cannot be read (truncated or corrupt file).
    """
    try:
        return {name: f[name][()] for name in entries}
    except OSError as exc:
        raise DataFileError(f"{where}: unreadable array data, the file is truncated or corrupt ({exc})") from None

"""Reading the arrays of a ``.npz`` or HDF5 file from elsewhere, bounded and without running code.

The first step of ``beamsim import`` (:mod:`beamsim.exchange`): the file's arrays, by name, as
the file holds them (dtype and shape untouched); what they must be is checked there. Both
readers look at every array's declared name, dtype and shape before reading a byte of data
and refuse, with one :class:`~beamsim.errors.DataFileError` line naming the file:

- a name not in :data:`SOURCE_KINDS` (a misspelt ``lable`` is never silently dropped);
- a dtype of a kind the name does not allow (:data:`SOURCE_KINDS`): object arrays, strings,
  structured or complex dtypes;
- declared sizes summing to more than :func:`beamsim.h5safe.max_read_bytes`
  (``BEAMSIM_MAX_READ_BYTES``, default 4 GiB), so memory stays bounded by the same knob as
  every other file beamsim reads;
- for ``.npz``: a member that is not a ``.npy`` array or a name given twice; nothing is ever
  unpickled (``allow_pickle=False`` throughout);
- for HDF5: groups, links, external or virtual storage (:func:`beamsim.h5safe.listed`).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from beamsim.errors import DataFileError
from beamsim.fileio import open_hdf5
from beamsim.h5safe import MAX_READ_BYTES_ENV, Array, check_declared, format_bytes, listed, max_read_bytes, read_checked

__all__ = ["SOURCE_KINDS", "read_npz", "read_hdf5", "file_sha256", "check_names", "check_kind", "check_size"]

#: Every array a source file may hold -> the numpy dtype kinds it may have (``f`` float, ``i``/``u``
#: integers, ``b`` bool). Shapes and values are checked by :func:`beamsim.exchange.beam_arrays`.
SOURCE_KINDS: dict[str, str] = {
    "rsrp": "fiu",           # [N, R, C] or [N, K], true RSRP [dBm]; NaN = not measured
    "mask": "biu",           # [R, C], [N, R, C] (or [K], [N, K]), True / 1 = measured
    "label": "iu",           # [N], best beam
    "ue_pos": "fiu",         # [N, 3], UE position [m]
    "los": "biu",            # [N], line of sight
    "split": "biu",          # [N], 0 = train, 1 = test
    "rsrp_measured": "fiu",  # like rsrp, reported RSRP [dBm]
    "rsrp_setb": "fiu",      # [N, kr, kc], wide-beam RSRP [dBm]
    "beam_dirs": "fiu",      # [K, 2], (azimuth, elevation) [deg]
}


def check_names(names: list[str], where: str) -> None:
    """Refuse a name that is not in :data:`SOURCE_KINDS`, or one given twice."""
    seen = set()
    for name in names:
        if name in seen:
            raise DataFileError(f"{where}: the array {name!r} is given twice; keep one")
        seen.add(name)
    unknown = [n for n in names if n not in SOURCE_KINDS]
    if unknown:
        raise DataFileError(f"{where}: unknown array(s) {', '.join(repr(n) for n in unknown)}; beamsim import reads "
                            f"{', '.join(SOURCE_KINDS)} (docs: import-export); remove or rename them")
    if "rsrp" not in names:
        raise DataFileError(f"{where}: no 'rsrp' array (the RSRP per beam [dBm], [N, rows, cols] or [N, K]); "
                            f"found {', '.join(repr(n) for n in names) or 'no arrays'}")


def check_kind(name: str, dtype: np.dtype, where: str) -> None:
    """Refuse a dtype whose kind :data:`SOURCE_KINDS` does not allow for ``name`` (and any object,
    structured or sub-array dtype)."""
    kinds = SOURCE_KINDS[name]
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds:
        words = {"f": "float", "i": "integer", "u": "integer", "b": "bool"}
        allowed = " or ".join(dict.fromkeys(words[k] for k in kinds))
        raise DataFileError(f"{where}: '{name}' has dtype {dtype}, expected {allowed} numbers")


def check_size(declared: dict[str, int], where: str) -> None:
    """Refuse declared sizes (name -> bytes) summing to more than the read bound."""
    limit, total = max_read_bytes(), sum(declared.values())
    if total > limit:
        largest = max(declared, key=declared.get)
        raise DataFileError(f"{where}: the arrays declare {format_bytes(total)} ('{largest}' alone "
                            f"{format_bytes(declared[largest])}), more than the read limit of {format_bytes(limit)}; "
                            f"nothing was read; if the file is genuine, raise the limit with "
                            f"{MAX_READ_BYTES_ENV}={max(total, 2 * limit)}")


def _npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of an open ``.npy`` stream, from its header alone."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(handle)
    raise ValueError(f".npy format version {version} (structured dtypes only) is not read")


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive (``np.savez`` / ``np.savez_compressed``), headers first.

    Returns:
        name -> array, in archive order, dtypes and shapes as stored.

    Raises:
        DataFileError: see the module docstring; also a file that is not a zip archive, or a
            truncated or corrupt member (each one line naming the file).
    """
    where = str(path)
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{where}: {'is a folder, not a file' if path.is_dir() else 'no such file'}")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            foreign = [m.filename for m in members if not m.filename.endswith(".npy")]
            if foreign:
                raise DataFileError(f"{where}: member {foreign[0]!r} is not a .npy array; an .npz for beamsim "
                                    "import holds only arrays (np.savez)")
            names = [m.filename[: -len(".npy")] for m in members]
            check_names(names, where)
            declared, headers = {}, {}
            for member, name in zip(members, names):
                with archive.open(member) as handle:
                    shape, _, dtype = _npy_header(handle)
                check_kind(name, dtype, where)
                headers[name] = (shape, dtype)
                declared[name] = int(np.prod(shape, dtype=object)) * dtype.itemsize
            check_size(declared, where)
            out = {}
            for member, name in zip(members, names):
                with archive.open(member) as handle:
                    out[name] = np.lib.format.read_array(handle, allow_pickle=False)
                if (out[name].shape, out[name].dtype) != headers[name]:  # pragma: no cover - a header read twice
                    raise DataFileError(f"{where}: '{name}' changed between two reads of its header")
            return out
    except DataFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        detail = " ".join(str(exc).split()) or exc.__class__.__name__
        raise DataFileError(f"{where}: not a readable .npz archive (truncated, corrupt or of another format: "
                            f"{detail[:200]})") from None


def read_hdf5(path: str | Path) -> dict[str, np.ndarray]:
    """The root datasets of an HDF5 file, checked before reading (:mod:`beamsim.h5safe`).

    Returns:
        name -> array, in file order, dtypes and shapes as stored (HDF5 attributes are ignored).

    Raises:
        DataFileError: see the module docstring.
    """
    where = str(path)
    with open_hdf5(path) as f:
        entries = listed(f, where)
        check_names(list(entries), where)
        for name, entry in entries.items():
            check_kind(name, entry.dtype, where)
        check_declared(entries, {name: Array(kinds) for name, kinds in SOURCE_KINDS.items()}, where,
                       "beamsim import source")
        return read_checked(f, entries, where)


def file_sha256(path: str | Path, chunk: int = 2**20) -> str:
    """SHA-256 of a file's bytes, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()

"""Beam data from elsewhere in, and a data set's arrays out: ``beamsim import`` and ``beamsim export``.

:func:`import_beam_data` turns measured beam sweeps (testbed logs) or another simulator's
output into a beamsim data-set file (:mod:`beamsim.dataset`, the file ``beamsim generate``
writes). The source is an ``.npz`` archive or an HDF5 file of named arrays
(:mod:`beamsim.exchange_read`) or a CSV table (:mod:`beamsim.exchange_csv`); names, shapes,
units and dtypes are on the documentation page ``import-export.md``. In short:

- ``rsrp`` [N, R, C] (the beam grid) or [N, K] with ``--grid RxC`` (beam ``k = r * C + c``)
  or with ``beam_dirs`` [K, 2] (azimuth, elevation) [deg], which orders the beams into the grid:
  one row per elevation, highest first, azimuth rising along a row (as
  :mod:`beamsim.simulation.codebook` lays out its beams);
- NaN in ``rsrp`` means "not measured": that beam's mask is False and its stored RSRP is
  :data:`~beamsim.dataset.RSRP_MIN_DBM` (no power). Labels default to the strongest beam, so a
  sample with a NaN needs an explicit label, and no label may name a beam without an RSRP;
- the mask comes from the source (``mask``), from a Set B pattern (:data:`MASK_PATTERNS`:
  ``checkerboard``, the ``subset`` lattice of :func:`beamsim.scenarios.beams.subset_mask`, or
  ``random`` per sample), or is all True; a pattern replaces the source's mask;
- without ``split``, the seeded permutation of :func:`beamsim.simulation.split.assign_split`
  puts ``test_fraction`` of the samples in the test split.

:func:`export_npz` writes a data-set file's arrays in exactly the layout the import reads, so
export then import gives identical arrays (and the same ``sha256``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.dataset import read_dataset, write_dataset
from beamsim.errors import DataFileError
from beamsim.exchange_arrays import DEFAULT_TEST_FRACTION, MASK_PATTERNS, MAX_BEAMS, MaskPattern, beam_arrays
from beamsim.exchange_csv import read_csv
from beamsim.exchange_read import SOURCE_KINDS, file_sha256, read_hdf5, read_npz

__all__ = ["MaskPattern", "MASK_PATTERNS", "SOURCE_FORMATS", "DEFAULT_TEST_FRACTION", "MAX_BEAMS", "parse_grid",
           "source_format", "read_source", "beam_arrays", "default_output", "import_beam_data", "export_npz",
           "EXPORT_ARRAYS"]

#: File suffix -> source format.
SOURCE_FORMATS = {".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5", ".csv": "csv"}
#: The arrays an export writes, in this order (the optional ones only when the file has them);
#: ``beam_dirs`` [R C, 2] float32 comes last when the file records ``beam_directions``.
EXPORT_ARRAYS = ("rsrp", "mask", "label", "ue_pos", "los", "split", "rsrp_measured", "rsrp_setb")


def parse_grid(text: str) -> tuple[int, int]:
    """``"ROWSxCOLS"`` as ``(rows, cols)``.

    >>> parse_grid("4x8")
    (4, 8)

    Raises:
        ValueError: not two positive integers joined by ``x``.
    """
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--grid must be ROWSxCOLS with two positive integers (e.g. 8x8), not {text!r}")
    return int(parts[0]), int(parts[1])


def source_format(path: str | Path) -> str:
    """``npz``, ``hdf5`` or ``csv``, from the file's suffix.

    Raises:
        DataFileError: another suffix.
    """
    found = SOURCE_FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise DataFileError(f"{path}: beamsim import reads {', '.join(SOURCE_FORMATS)} files; "
                            "name the file with one of these suffixes")
    return found


def read_source(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a source file by name, as stored (dtypes unchecked beyond their kind)."""
    return {"npz": read_npz, "hdf5": read_hdf5, "csv": read_csv}[source_format(path)](path)


def default_output(source: str | Path) -> Path:
    """``data/<source stem>.h5``, as ``beamsim generate`` names its files."""
    return Path("data") / f"{Path(source).stem}.h5"


def _distinct(source: Path, out: Path) -> None:
    if out.resolve() == source.resolve():
        raise ValueError(f"--out {out} is the source file itself; write to another file")


def import_beam_data(source: str | Path, out: str | Path | None = None, *, grid: tuple[int, int] | None = None,
                     mask_pattern: MaskPattern | None = None, set_b_size: int | None = None,
                     test_fraction: float | None = None, seed: int = 0) -> dict:
    """Read ``source`` (``.npz``, ``.h5``/``.hdf5`` or ``.csv``) and write it as a data-set file.

    Args:
        source: the file to import (module docstring; names, shapes and units in the docs).
        out: the data-set file to write (default :func:`default_output`); written atomically, so
            a refusal leaves nothing behind.
        grid, mask_pattern, set_b_size, test_fraction, seed: see :func:`beam_arrays`.

    Returns:
        A JSON-ready summary: path, samples, split sizes, beam grid, where the labels and the
        mask came from, the mask kind, the measured share, NaN beams, classes present, sha256.

    Raises:
        DataFileError: the source cannot be read or its arrays do not make a data set.
        ValueError: options that do not fit the data.
    """
    source = Path(source)
    out = default_output(source) if out is None else Path(out)
    fmt = source_format(source)
    _distinct(source, out)
    raw = read_source(source)
    arrays, attrs = beam_arrays(raw, str(source), grid=grid, mask_pattern=mask_pattern, set_b_size=set_b_size,
                                test_fraction=test_fraction, seed=seed)
    names = [name for name in SOURCE_KINDS if name in raw]  # one order, whatever the file's
    provenance = {"scenario": f"# imported with beamsim import from {source.name}; no scenario\n",
                  "scenario_name": source.stem, "imported_from": source.name, "import_format": fmt,
                  "import_sha256": file_sha256(source), "imported_arrays": ",".join(names)}
    checksum = write_dataset(out, arrays, {**provenance, **attrs})
    n, beams = len(arrays), int(np.prod(arrays.rsrp.shape[1:]))
    counts = np.bincount(arrays.label.astype(np.int64), minlength=beams)
    strongest = arrays.rsrp.reshape(n, -1).argmax(axis=1)
    return {
        "path": str(out), "source": str(source), "source_format": fmt, "imported_arrays": names,
        "samples": n, "train": int((arrays.split == 0).sum()), "test": int((arrays.split == 1).sum()),
        "beam_grid": list(arrays.rsrp.shape[1:]), "labels": attrs["labels"],
        "labels_not_strongest": int((strongest != arrays.label).sum()), "classes_present": int((counts > 0).sum()),
        "mask_pattern": attrs["mask_pattern"], "mask_kind": attrs["mask_kind"],
        "measured_share": round(float(arrays.mask.mean()), 4), "nan_beams": attrs["nan_beams"],
        "wide_set_b": None if arrays.rsrp_setb is None else list(arrays.rsrp_setb.shape[1:]),
        "format_version": int(attrs.get("format_version", 1)), "sha256": checksum,
    }


def export_npz(source: str | Path, out: str | Path) -> dict:
    """Write the arrays of the data-set file ``source`` to the ``.npz`` archive ``out``.

    The archive holds :data:`EXPORT_ARRAYS` with the file's names, dtypes and shapes, and
    ``beam_dirs`` when the file records ``beam_directions``: exactly what :func:`import_beam_data`
    reads, so export then import gives identical arrays. Written atomically.

    Returns:
        A JSON-ready summary: path, source, samples, each array's dtype and shape, bytes, the
        source's sha256.

    Raises:
        DataFileError: ``source`` is not a readable data set (sequence files of format
            version 3 included).
        ValueError: ``out`` does not end in ``.npz`` or is the source itself.
    """
    from beamsim.fileio import atomic_path

    source, out = Path(source), Path(out)
    if out.suffix.lower() != ".npz":
        raise ValueError(f"--out {out} must end in .npz (beamsim import tells the formats by their suffix)")
    _distinct(source, out)
    arrays, attrs = read_dataset(source)
    data = arrays.as_dict()
    if "beam_directions" in attrs:
        data["beam_dirs"] = np.asarray(attrs["beam_directions"], dtype=np.float32)
    with atomic_path(out, suffix=".npz.tmp") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **data)
    return {"path": str(out), "source": str(source), "format": "npz", "samples": len(arrays),
            "arrays": {name: f"{value.dtype} {list(value.shape)}" for name, value in data.items()},
            "file_bytes": out.stat().st_size, "sha256": str(attrs.get("sha256", ""))}

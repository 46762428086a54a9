"""The sequence file of moving UEs (3GPP BM-Case2): one track per sample, format version 3.

A scenario with a ``[trajectory]`` table writes, per sample, one UE's track of ``T = history +
max(horizons)`` instants, ``period_ms`` apart::

    /rsrp     float32 [N, T, E, A]  true RSRP of Set A at every instant [dBm]
    /mask     bool    [N, E, A]     the Set A beams Set B measures (fixed along the track;
                                    all False with wide beams)
    /rsrp_setb float32 [N, T, kr, kc]  (wide Set B only) reported wide-beam RSRP [dBm]
    /label    int16   [N, H]        best Set A beam at instant history - 1 + h, per horizon h
    /ue_pos   float32 [N, T, 3]     UE position relative to the BS at every instant [m]
    /los      bool    [N, T]        line of sight at every instant
    /speed    float32 [N]           UE speed [m/s]
    /heading  float32 [N]           direction of travel [rad], counter-clockwise from +x
    /split    uint8   [N]           0 = train, 1 = test
    attrs: those of every data set (format, scenario, seed, sha256, ...), the Set A / Set B
           attributes of version 2 when the BS sweeps, and period_ms, history, horizons

The model sees Set B over the first ``history`` instants and predicts the best Set A beam ``h``
periods after the last of them. Files of version 1 and 2 are read by :mod:`beamsim.dataset`;
the training commands do not read sequences yet (:func:`read_sequences` is for ``beamsim info``
and the library).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beamsim.dataset import (FIX, FORMAT, MEASURED_MARGIN_DB, RSRP_MAX_DBM, RSRP_MIN_DBM, SEQUENCE_FORMAT_VERSION,
                             arrays_checksum, read_attrs, write_arrays)
from beamsim.errors import DataFileError
from beamsim.fileio import open_hdf5
from beamsim.h5safe import Array, check_declared, check_values, listed, read_checked

__all__ = ["SEQUENCE_FORMAT_VERSION", "SequenceArrays", "is_sequence_file", "write_sequences", "read_sequences",
           "beam_change_rate"]


_NAMES = ("rsrp", "mask", "rsrp_setb", "label", "ue_pos", "los", "speed", "heading", "split")


@dataclass
class SequenceArrays:
    """The arrays of one sequence file (numpy, CPU); shapes in the module docstring."""

    rsrp: np.ndarray
    mask: np.ndarray
    label: np.ndarray
    ue_pos: np.ndarray
    los: np.ndarray
    speed: np.ndarray
    heading: np.ndarray
    split: np.ndarray
    rsrp_setb: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.rsrp.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name, in file order; ``rsrp_setb`` only when present."""
        return {name: getattr(self, name) for name in _NAMES if getattr(self, name) is not None}

    @staticmethod
    def concatenate(parts: list["SequenceArrays"]) -> "SequenceArrays":
        names = parts[0].as_dict().keys()
        return SequenceArrays(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def is_sequence_file(path: str | Path) -> bool:
    """Whether ``path`` is a beamsim sequence file (format version 3), from its attributes only.

    Raises:
        DataFileError: the file is missing or not HDF5.
    """
    attrs = read_attrs(path)
    return str(attrs.get("format", "")) == FORMAT and int(attrs.get("format_version", -1)) == SEQUENCE_FORMAT_VERSION


def _schema(n: int | None, t: int | None, grid: tuple[int, int] | None, horizons: int | None) -> dict[str, Array]:
    e, a = grid if grid is not None else (None, None)
    by = f"/rsrp's shape [N, T, E, A] = {[n, t, e, a]}"
    reported = (RSRP_MIN_DBM - MEASURED_MARGIN_DB, RSRP_MAX_DBM + MEASURED_MARGIN_DB)
    beams = None if grid is None else e * a - 1
    return {
        "rsrp": Array("f", shape=(n, t, e, a), finite=True, low=RSRP_MIN_DBM, high=RSRP_MAX_DBM,
                      meaning="an RSRP [dBm]", implied_by=by),
        "mask": Array("b", shape=(n, e, a), implied_by=by),
        "rsrp_setb": Array("f", shape=(n, t, None, None), finite=True, low=reported[0], high=reported[1],
                           meaning="a reported RSRP [dBm]", implied_by=by),
        "label": Array("iu", shape=(n, horizons), low=0, high=beams, meaning="best-beam indices", implied_by=by),
        "ue_pos": Array("f", shape=(n, t, 3), finite=True, meaning="UE positions [m]", implied_by=by),
        "los": Array("b", shape=(n, t), implied_by=by),
        "speed": Array("f", shape=(n,), finite=True, low=0.0, meaning="speeds [m/s]", implied_by=by),
        "heading": Array("f", shape=(n,), finite=True, meaning="headings [rad]", implied_by=by),
        "split": Array("u", shape=(n,), low=0, high=1, meaning="0 = train, 1 = test", implied_by=by),
    }


def write_sequences(path: str | Path, arrays: SequenceArrays, attrs: dict) -> str:
    """Check and write ``arrays`` to ``path`` atomically (format version 3); return the checksum.

    ``attrs`` holds at least ``scenario`` (TOML text), ``seed``, ``period_ms``, ``history`` and
    ``horizons``; format, version, creation time and checksum are added here.
    """
    n, t, e, a = arrays.rsrp.shape
    schema = _schema(n, t, (e, a), len(attrs["horizons"]))
    for name, value in arrays.as_dict().items():
        check_values(name, value, schema[name], str(path), fix="nothing was written; check the scenario")
    return write_arrays(path, arrays, {}, {**attrs, "format_version": SEQUENCE_FORMAT_VERSION})


def read_sequences(path: str | Path) -> tuple[SequenceArrays, dict]:
    """Read and check a sequence file (names, dtypes and shapes before any data, values as read).

    Raises:
        DataFileError: not a sequence file, foreign or malformed arrays, values out of range,
            checksum mismatch (each message names the file and the fix).
    """
    where = str(path)
    attrs = read_attrs(path)
    if str(attrs.get("format", "")) != FORMAT or int(attrs.get("format_version", -1)) != SEQUENCE_FORMAT_VERSION:
        raise DataFileError(f"{where}: not a beamsim sequence file (format {FORMAT!r}, version "
                            f"{SEQUENCE_FORMAT_VERSION}); generate one from a scenario with a [trajectory] table")
    with open_hdf5(path) as f:
        entries = listed(f, where)
        rsrp = entries.get("rsrp")
        if rsrp is None or len(rsrp.shape) != 4:
            raise DataFileError(f"{where}: /rsrp must be [N, T, E, A]; {FIX}")
        n, t, e, a = rsrp.shape
        schema = _schema(n, t, (e, a), len(np.atleast_1d(attrs.get("horizons", []))))
        missing = [name for name in _NAMES if name not in entries and name != "rsrp_setb"]
        if missing:
            raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}; {FIX}")
        check_declared(entries, schema, where, "beamsim sequence file")
        arrays = SequenceArrays(**read_checked(f, entries, where, schema, fix=FIX))
    if attrs.get("sha256", "") != arrays_checksum(arrays):
        raise DataFileError(f"{where}: checksum mismatch: the arrays do not match the stored sha256 (file corrupt or edited)")
    return arrays, attrs


def beam_change_rate(rsrp: np.ndarray) -> np.ndarray:
    """Per track, the share of consecutive instants whose best Set A beam differs.

    Args:
        rsrp: [N, T, E, A] float true RSRP [dBm].

    Returns:
        [N] float64 in [0, 1].

    >>> r = np.zeros((1, 3, 1, 2)); r[0, 1, 0, 1] = 1.0
    >>> beam_change_rate(r).tolist()
    [1.0]
    """
    best = rsrp.reshape(rsrp.shape[0], rsrp.shape[1], -1).argmax(axis=2)
    return (best[:, 1:] != best[:, :-1]).mean(axis=1)

"""Reading a CSV of beam measurements: one row per sample, one column per beam.

The header names every column; the order of the columns does not matter:

| column | meaning |
|---|---|
| ``beam_<r>_<c>`` | RSRP [dBm] of the beam in row ``r``, column ``c`` of the beam grid (0-based); the grid is ``(max r + 1) x (max c + 1)`` and every cell of it needs its column |
| ``beam_<k>`` | instead: RSRP [dBm] of beam ``k`` = 0 .. K-1 of a flat list; ``--grid ROWSxCOLS`` then gives the grid (``k = r * cols + c``) |
| ``label`` | optional: best beam index ``r * cols + c`` (an integer) |
| ``ue_x``, ``ue_y``, ``ue_z`` | optional, all three or none: UE position [m] |
| ``los`` | optional: line of sight, ``1``/``0`` or ``true``/``false`` |
| ``split`` | optional: ``0``/``1`` or ``train``/``test`` |

An empty cell, ``nan``, ``NA`` or ``null`` in a beam column means "not measured". Any other
column, a column named twice, a row with another number of fields than the header, or a cell
that is not a number is refused with one :class:`~beamsim.errors.DataFileError` line naming the
file, the line and the column. One row per line (no quoted line breaks), UTF-8 text (a
byte-order mark is allowed). Lines and the parsed numbers are bounded
(:func:`beamsim.h5safe.max_read_bytes` counts 8 bytes per cell), so memory stays bounded.
"""

from __future__ import annotations

import csv
import re
import stat
from pathlib import Path

import numpy as np

from beamsim.errors import DataFileError
from beamsim.exchange_read import check_size

__all__ = ["read_csv", "EXTRA_COLUMNS", "MISSING"]

#: The columns besides the beams, in the order :func:`read_csv` returns them.
EXTRA_COLUMNS = ("label", "ue_x", "ue_y", "ue_z", "los", "split")
#: Beam-cell texts that mean "not measured" (compared in lower case, stripped).
MISSING = frozenset({"", "nan", "na", "n/a", "null"})
#: The longest header line read [characters].
MAX_HEADER_CHARS = 4 * 2**20
#: Rows parsed into one block before the next is started.
_BLOCK = 4096
_BEAM = re.compile(r"beam_(\d{1,9})(?:_(\d{1,9}))?")
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})
_SPLIT = {"0": 0.0, "train": 0.0, "1": 1.0, "test": 1.0}


def _layout(names: list[str], where: str) -> tuple[np.ndarray, tuple[int, int] | None, dict[str, int]]:
    """(flat beam index of each beam column [columns] with -1 for the others, the grid that the
    names give (None for ``beam_<k>`` names), column index of each extra column)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataFileError(f"{where}: the header names column {name!r} twice; keep one")
        seen.add(name)
    matches = [_BEAM.fullmatch(name) for name in names]
    extras = {name: i for i, (name, m) in enumerate(zip(names, matches)) if m is None}
    unknown = [name for name in extras if name not in EXTRA_COLUMNS]
    if unknown:
        raise DataFileError(f"{where}: unknown column(s) {', '.join(repr(n) for n in unknown[:5])}; a CSV for beamsim "
                            f"import has beam_<row>_<col> (or beam_<k>) columns and optionally "
                            f"{', '.join(EXTRA_COLUMNS)}; remove or rename them")
    position = [c for c in ("ue_x", "ue_y", "ue_z") if c in extras]
    if position and len(position) != 3:
        raise DataFileError(f"{where}: the header has {', '.join(position)} but not all of ue_x, ue_y, ue_z; "
                            "give all three or none")
    beams = [(i, m) for i, m in enumerate(matches) if m is not None]
    if not beams:
        raise DataFileError(f"{where}: no beam columns; name them beam_<row>_<col> (or beam_<k> with --grid)")
    two_d = {m.group(2) is not None for _, m in beams}
    if len(two_d) == 2:
        raise DataFileError(f"{where}: the header mixes beam_<row>_<col> and beam_<k> columns; use one naming")
    index = np.full(len(names), -1, dtype=np.int64)
    if two_d == {True}:
        cells = [(int(m.group(1)), int(m.group(2))) for _, m in beams]
        rows, cols = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
        if len(set(cells)) != len(cells):
            raise DataFileError(f"{where}: two columns name the same beam (e.g. beam_1_2 and beam_01_2); keep one")
        if rows * cols != len(cells):
            have = set(cells)
            gap = next((r, c) for r in range(rows) for c in range(cols) if (r, c) not in have)
            raise DataFileError(f"{where}: no column beam_{gap[0]}_{gap[1]}: beam columns up to row {rows - 1} and "
                                f"column {cols - 1} make a {rows} x {cols} grid, and each of its beams needs a column "
                                "(an empty cell marks a beam not measured)")
        for (i, _), (r, c) in zip(beams, cells):
            index[i] = r * cols + c
        return index, (rows, cols), extras
    flat = [int(m.group(1)) for _, m in beams]
    if sorted(flat) != list(range(len(flat))):
        have = set(flat)
        problem = (f"beam_{next(k for k in range(len(flat)) if k not in have)} is missing" if len(have) == len(flat)
                   else "two columns name the same beam")
        raise DataFileError(f"{where}: beam_<k> columns must be beam_0 .. beam_{len(flat) - 1}, each once; {problem}")
    for (i, _), k in zip(beams, flat):
        index[i] = k
    return index, None, extras


def _number(text: str, where: str, line: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataFileError(f"{where}: line {line}, column {column}: {text[:40]!r} is not a number") from None


def _parse_row(cells: list[str], names: list[str], slots: list[int], out: np.ndarray, where: str, line: int) -> None:
    """Parse one row into ``out`` [beams + 6] float64 at ``slots`` (per column: the beam index, or
    the number of beams plus the place in :data:`EXTRA_COLUMNS`)."""
    for text, name, slot in zip(cells, names, slots):
        text = text.strip()
        if name.startswith("beam_"):
            out[slot] = np.nan if text.lower() in MISSING else _number(text, where, line, name)
            continue
        word = text.lower()
        if name == "label":
            if not re.fullmatch(r"[+-]?\d{1,9}", text):
                raise DataFileError(f"{where}: line {line}, column label: {text[:40]!r} is not a beam index "
                                    "(an integer)")
            out[slot] = int(text)
        elif name == "los":
            if word not in _TRUE | _FALSE:
                raise DataFileError(f"{where}: line {line}, column los: {text[:40]!r} is not 1/0 or true/false")
            out[slot] = word in _TRUE
        elif name == "split":
            if word not in _SPLIT:
                raise DataFileError(f"{where}: line {line}, column split: {text[:40]!r} is not 0/1 or train/test")
            out[slot] = _SPLIT[word]
        else:
            out[slot] = _number(text, where, line, name)


def _check_file(path: Path, where: str) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataFileError(f"{where}: no such file") from None
    if stat.S_ISDIR(mode):
        raise DataFileError(f"{where}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise DataFileError(f"{where}: not a regular file (a device, pipe or socket); give a file")


def read_csv(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a beam CSV (module docstring).

    Returns:
        ``rsrp``: [N, R, C] (``beam_<r>_<c>`` names) or [N, K] (``beam_<k>``) float64 [dBm],
        NaN where not measured; and, when their columns are present, ``label`` [N] int64,
        ``ue_pos`` [N, 3] float64 [m], ``los`` [N] bool, ``split`` [N] uint8.

    Raises:
        DataFileError: see the module docstring (one line: file, line, column, the fix).
    """
    where = str(path)
    path = Path(path)
    _check_file(path, where)
    line = 0  # lines read so far
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = handle.readline(MAX_HEADER_CHARS + 1)
            line = 1
            if len(header) > MAX_HEADER_CHARS:
                raise DataFileError(f"{where}: the header line is longer than {MAX_HEADER_CHARS} characters")
            if not header.strip():
                raise DataFileError(f"{where}: empty file; the first line must name the columns")
            names = [name.strip() for name in next(csv.reader([header]))]
            beam_index, grid, extras = _layout(names, where)
            beams = int((beam_index >= 0).sum())
            slots = [int(k) if k >= 0 else beams + EXTRA_COLUMNS.index(name) for k, name in zip(beam_index, names)]
            width, max_line = beams + len(EXTRA_COLUMNS), 64 * len(names) + 4096
            blocks, block, fill = [], np.empty((_BLOCK, width)), 0
            while text := handle.readline(max_line + 1):
                line += 1
                if len(text) > max_line:
                    raise DataFileError(f"{where}: line {line} is longer than {max_line} characters "
                                        f"({len(names)} columns); one row per line")
                if not text.strip():
                    continue
                cells = next(csv.reader([text]))
                if len(cells) != len(names):
                    raise DataFileError(f"{where}: line {line} has {len(cells)} fields, the header {len(names)}")
                if fill == _BLOCK:
                    blocks.append(block)
                    check_size({"rsrp": (len(blocks) + 1) * _BLOCK * width * 8}, where)
                    block, fill = np.empty((_BLOCK, width)), 0
                _parse_row(cells, names, slots, block[fill], where, line)
                fill += 1
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{where}: not UTF-8 text (near line {line + 1}); save it as UTF-8") from None
    except csv.Error as exc:
        raise DataFileError(f"{where}: line {max(line, 1)}: not valid CSV ({exc})") from None
    table = np.concatenate([*blocks, block[:fill]])
    if not len(table):
        raise DataFileError(f"{where}: no samples: the file has a header and no rows")
    rsrp = table[:, :beams]
    out = {"rsrp": rsrp if grid is None else rsrp.reshape(len(table), *grid)}
    column = {name: table[:, beams + i] for i, name in enumerate(EXTRA_COLUMNS)}
    if "label" in extras:
        out["label"] = column["label"].astype(np.int64)
    if "ue_x" in extras:
        out["ue_pos"] = np.stack([column["ue_x"], column["ue_y"], column["ue_z"]], axis=1)
    if "los" in extras:
        out["los"] = column["los"].astype(bool)
    if "split" in extras:
        out["split"] = column["split"].astype(np.uint8)
    return out

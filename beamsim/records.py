"""Records: CSV tables and JSON documents, written atomically, and the one JSON conversion.

Every record beamsim writes (a study's tables and point files, a distillation's
per-iteration history) and every ``--json`` document it prints goes through
:func:`to_jsonable`, so a value reads the same in all of them: numpy and torch scalars
and arrays become plain numbers and lists, tuples become lists, paths and other objects
their text, and non-finite floats ``null``.

A core module: it imports only the standard library and :mod:`beamsim.fileio` (numpy and
torch values are recognised by their ``tolist()``, not imported).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from beamsim.fileio import atomic_path

__all__ = ["to_jsonable", "write_csv", "write_json"]


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types: dicts (string keys), lists, str, int, float, bool, None.

    Mappings and sequences are converted item by item; numpy and torch scalars and arrays
    through their ``tolist()``; NaN and infinities become None; anything else (a path, an
    enum, a device) becomes ``str(obj)``.

    >>> import numpy as np
    >>> to_jsonable({"n": np.int64(3), "x": (1.5, float("nan")), "a": np.arange(2), 4: "four"})
    {'n': 3, 'x': [1.5, None], 'a': [0, 1], '4': 'four'}
    >>> from pathlib import Path
    >>> to_jsonable(Path("runs/a.h5"))
    'runs/a.h5'
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(tolist):
        return to_jsonable(tolist())
    return str(obj)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as CSV atomically (None as an empty cell).

    Args:
        path: the file (its folder is created).
        rows: one mapping per row.
        columns: the columns, in order (default: every key of ``rows``, in first-seen
            order); keys of a row outside them are left out.

    Returns:
        ``path``.
    """
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    with atomic_path(path, suffix=".csv.tmp") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return Path(path)


def write_json(path: str | os.PathLike, doc: Mapping[str, Any]) -> Path:
    """Write one JSON document atomically (indented, :func:`to_jsonable` values, a final newline).

    Returns:
        ``path``.
    """
    with atomic_path(path, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(to_jsonable(doc), indent=2) + "\n")
    return Path(path)

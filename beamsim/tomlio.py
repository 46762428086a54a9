"""A small TOML writer for scenarios and settings stored in file metadata (read back with ``tomllib``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "plain_fields"]


def _bare_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key):
        return key
    return _value(key)


def _value(value: Any) -> str:
    if hasattr(value, "item") and not isinstance(value, (list, tuple, str)):
        value = value.item()  # numpy / torch scalars
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} to TOML: use numbers, strings, booleans, lists or tables")


def dumps(data: Mapping[str, Any], _prefix: str = "") -> str:
    """``data`` as TOML text; nested mappings become tables, ``None`` values are dropped.

    >>> print(dumps({"bits": 6, "name": "apot", "shape": (1, 8, 8), "opt": {"lr": 0.1}}), end="")
    bits = 6
    name = "apot"
    shape = [1, 8, 8]
    <BLANKLINE>
    [opt]
    lr = 0.1
    """
    lines = []
    tables = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{_bare_key(str(key))} = {_value(value)}")
    for key, value in tables:
        name = f"{_prefix}{_bare_key(str(key))}"
        lines.append(f"\n[{name}]")
        lines.append(dumps(value, _prefix=f"{name}.").rstrip("\n"))
    return "\n".join(line for line in lines if line != "") + ("\n" if lines else "")


def plain_fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as plain TOML values: tuples as lists, ``None`` dropped.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     a: tuple = (1, 2)
    ...     b: object = None
    >>> plain_fields(C())
    {'a': [1, 2]}
    """
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is not None:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out

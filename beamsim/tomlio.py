"""TOML for scenarios and settings: a small writer, and the checked reading of files from elsewhere.

Writing: :func:`dumps` (what file metadata stores, read back with ``tomllib``).

Reading a user's file: :func:`load_toml` reads at most :data:`MAX_TOML_BYTES` of it, as UTF-8,
and parses it, refusing in one line (file, reason, fix; a syntax error with its line and
column); :func:`check_value` checks a parsed value against a dataclass field's type (an
integer, a finite number, true/false, a string, one of a ``Literal``'s values, a list of
so many numbers, a table), so a wrong type is refused with the setting's name rather than
accepted (``"yes"`` for a flag) or failing later in a comparison.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "plain_fields", "MAX_TOML_BYTES", "read_toml_text", "load_toml", "parse_toml", "field_types",
           "check_value", "shown"]

#: The largest scenario or config file read [bytes]: 1 MiB (the shipped ones are under 2 KiB);
#: a larger file is refused before it is parsed, and no more than this is read of it.
MAX_TOML_BYTES = 2**20


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


# --- reading ---------------------------------------------------------------------------------------

def parse_toml(text: str, where: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """``tomllib.loads(text)``; a syntax error raises ``error`` naming ``where``, the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML ({' '.join(str(exc).split())}); fix the syntax there") from None


def read_toml_text(path: str | os.PathLike, what: str, error: type[Exception] = ValueError) -> str:
    """The text of the TOML file ``path``: at most :data:`MAX_TOML_BYTES` read, UTF-8.

    Args:
        what: what the file is, for the messages (``"config file"``).
        error: the exception class raised.

    Raises:
        ``error``: a missing path, a folder, a file over the bound or bytes that are not UTF-8.
    """
    from beamsim.fileio import read_text_bounded

    return read_text_bounded(path, MAX_TOML_BYTES, what, error)


def load_toml(path: str | os.PathLike, what: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The parsed TOML file ``path`` (:func:`read_toml_text`, then :func:`parse_toml`).

    Raises:
        ``error``: what :func:`read_toml_text` raises, or a syntax error (with its line and column).
    """
    return parse_toml(read_toml_text(path, what, error), f"{what} {path}", error)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's field name -> its resolved type hint."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if origin is typing.Literal:  # the type only: the dataclass names the allowed values itself
        return any(type(value) is type(arg) for arg in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this checker does not know: the dataclass validates the value itself


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(
        hint, f"a table of {getattr(hint, '__name__', hint)}" if dataclasses.is_dataclass(hint) else str(hint))


def shown(value: Any) -> str:
    """A parsed value as a message shows it: ``a table``, ``the list [1, 2]``, ``str 'x'``."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)!r}"[:80]
    return f"{type(value).__name__} {value!r}"[:80]


def check_value(value: Any, hint: Any, name: str) -> None:
    """Raise ``ValueError("<name> must be <type>, not <value>")`` unless ``value`` fits ``hint``.

    >>> check_value(3, int, "spc")
    >>> check_value("3", int, "spc")
    Traceback (most recent call last):
    ...
    ValueError: spc must be an integer, not str '3'
    >>> check_value(float("nan"), float | None, "isd")
    Traceback (most recent call last):
    ...
    ValueError: isd must be a finite number, not float nan
    """
    if not _matches(value, hint):
        raise ValueError(f"{name} must be {_describe(hint)}, not {shown(value)}")

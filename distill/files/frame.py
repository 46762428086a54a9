"""The frame every distilled file shares, whatever its codec.

A distilled file is one HDF5 file with ``format = "beamsim.distilled"`` and
``format_version = 1``. Its codec (:mod:`beamsim.distill.files.codec`) chooses the arrays and
the attributes between the fixed parts this module owns. Attribute order is part of the
file's bytes; :func:`write_frame` writes::

    format, format_version,
    <the codec's header>           (quantizer, bits, ..., num_samples, num_classes[, label_topk, label_bits])
    source_sha256, source_path, encoding, source_samples, objective, spc, seed   (provenance)
    <the codec's accounting>       (payload_bits, payload_bits_stored, overhead_bits, ...)
    config (TOML), settings (TOML),
    sha256 (of the payload array), arrays_sha256 (of every other array),
    class_names (when given), beamsim_version

and the arrays in the order the codec gives them, atomically (a temporary file renamed onto
the target). :func:`read_frame` checks the format and version, checks every dataset against
the claiming codec's schema (names, dtypes, the shapes its attributes imply) and the read bound
(:mod:`beamsim.h5safe`) before reading, then reads each once, its values checked as they come;
the codec validates and decodes them.

>>> import numpy as np
>>> sha256(("x", np.zeros(2, np.float32))) == sha256(("x", np.zeros(2, np.float32)))
True
>>> settings_of({"settings": 'a = 1\\n[t]\\nb = "c"\\n'})
{'a': 1, 't': {'b': 'c'}}
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import torch

from beamsim import __version__, tomlio
from beamsim.distill.bits import FLOAT_BITS, compression_ratio
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.fileio import atomic_path, open_hdf5
from beamsim.h5safe import Array, Declared, check_declared, listed, read_checked

if TYPE_CHECKING:
    from beamsim.distill.labels import SoftLabels
    from beamsim.distill.quant import Quantizer

__all__ = ["FORMAT", "FORMAT_VERSION", "DistilledSet", "Frame", "sha256", "arrays_sha256", "plain", "format_of",
           "read_attrs", "read_frame", "check_format", "int_attr", "check_counts", "labels_of", "settings_of",
           "optional_attr", "described_sizes", "write_frame", "SCHEMA", "FIX", "SchemaOf", "count_attr",
           "family_schema"]

FORMAT = "beamsim.distilled"
FORMAT_VERSION = 1


@dataclass
class DistilledSet:
    """A distilled file's content, decoded.

    Attributes:
        x: [N, *shape] float32, decoded values (rows grouped by class).
        y: [N] int64 labels.
        counts: [C] int64 samples per class.
        attrs: the file's attributes (plain Python values).
        quantizer: the quantizer rebuilt from the file (None unless the codec stores one).
        codes: [N, *shape] int64 codes (None unless the codec stores element-wise codes).
        soft: the stored soft labels, rows as ``x`` (None unless the file holds them).
    """

    x: torch.Tensor
    y: torch.Tensor
    counts: torch.Tensor
    attrs: dict
    quantizer: "Quantizer | None"
    codes: torch.Tensor | None
    soft: "SoftLabels | None" = None


@dataclass(frozen=True)
class Frame:
    """A distilled file as read: format and version checked, every attribute and array.

    Attributes:
        path: the file, as the caller named it.
        attrs: attributes as plain Python values (str, int, float, bool, lists).
        arrays: every dataset by its HDF5 path (``quantizer/scale`` for nested ones).
    """

    path: str | Path
    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def where(self) -> str:
        """The file name, for error messages."""
        return str(self.path)

    def check_checksums(self, payload: str, others: str) -> None:
        """Raise unless ``sha256`` matches ``/payload`` and ``arrays_sha256`` every other array.

        Args:
            payload: name of the payload array.
            others: what the other arrays are, for the message (e.g. "thresholds, counts or
                constants").
        """
        if self.attrs.get("sha256") != sha256((payload, self.arrays[payload])):
            raise DataFileError(f"{self.where}: checksum mismatch: /{payload} does not match its stored sha256 "
                                "(file corrupt or edited)")
        if self.attrs.get("arrays_sha256") != arrays_sha256(self.arrays, payload):
            raise DataFileError(f"{self.where}: checksum mismatch: {others} do not match the stored arrays_sha256 "
                                "(file corrupt or edited)")


# --- hashing ---------------------------------------------------------------------------------

def sha256(*arrays: tuple[str, np.ndarray]) -> str:
    """Hex SHA-256 of named arrays: name, dtype, shape and bytes of each, in name order."""
    digest = hashlib.sha256()
    for name, value in sorted(arrays, key=lambda item: item[0]):
        value = np.ascontiguousarray(value)
        digest.update(f"{name}:{value.dtype.str}:{list(value.shape)};".encode())
        digest.update(value.reshape(-1).view(np.uint8))  # the bytes, without a copy
    return digest.hexdigest()


def arrays_sha256(arrays: Mapping[str, np.ndarray], payload: str) -> str:
    """:func:`sha256` of every array but the payload (the ``arrays_sha256`` attribute)."""
    return sha256(*[(key, value) for key, value in arrays.items() if key != payload])


# --- attributes ------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """An HDF5 attribute value as a plain Python value (bytes -> str, arrays -> lists)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_of(path: str | Path) -> str:
    """The ``format`` attribute of an HDF5 file ('' when it has none).

    Raises:
        DataFileError: missing file or not HDF5.
    """
    with open_hdf5(path) as f:
        return str(plain(f.attrs.get("format", "")))


def check_format(attrs: Mapping[str, Any], where: str) -> None:
    """Raise unless ``attrs`` name this file family and a version this beamsim reads."""
    fmt = attrs.get("format", "")
    if fmt != FORMAT:
        found = f"format {fmt!r}" if fmt else "no 'format' attribute"
        raise DataFileError(f"{where}: not a beamsim distilled set ({found}; expected {FORMAT!r})")
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise DataFileError(f"{where}: format_version {version!r} is not supported (this beamsim reads {FORMAT_VERSION})")


def read_attrs(path: str | Path) -> dict[str, Any]:
    """The attributes of a distilled file (plain values), format and version checked; no
    array is read.

    Raises:
        DataFileError: missing file, not HDF5, another format or version.
    """
    with open_hdf5(path) as f:
        attrs = {key: plain(value) for key, value in f.attrs.items()}
    check_format(attrs, str(path))
    return attrs


#: What a distilled file may hold, whatever its codec: dataset -> allowed dtype kinds (the
#: schema of a codec that declares none; ``quantizer/*``: a quantizer's state tensors).
SCHEMA: dict[str, str] = {
    "x": "f", "codes": "uif", "counts": "iu", "constant_mask": "b", "constant_values": "f",
    "constant_codes": "uib", "alpha": "f", "groups": "ui", "scale": "f", "zero_point": "i",
    "quantizer/*": "fiub",
}
#: What a refusal of a distilled file's content says to do.
FIX = "the file is corrupt or was edited; write it again with beamsim, or get it again from its source"

#: A codec's schema for one file: from its attributes and its datasets as declared (no data read).
#: It may raise DataFileError for what they rule out together (:func:`read_frame` names the file).
SchemaOf = Callable[[Mapping[str, Any], Mapping[str, Declared]], Mapping[str, "str | Array"]]


def read_frame(path: str | Path, schema: SchemaOf | None = None, what: str = "beamsim distilled set") -> Frame:
    """Attributes and every array of a distilled file, format and version checked.

    Before any data is read, every dataset is checked against the schema (names, dtype kinds,
    the shapes the attributes imply) and the declared sizes against the read bound
    (:mod:`beamsim.h5safe`); the values are checked slice by slice as they are read.

    Args:
        path: the file.
        schema: the claiming codec's :meth:`~.codec.Codec.schema` (None: :data:`SCHEMA`, with
            ``/counts`` held to ``num_classes``).
        what: the file's kind, for messages.

    Raises:
        DataFileError: missing, truncated or foreign file; another format or version; a
            foreign or linked dataset; a shape the attributes do not imply; more declared data
            than the read bound; a value the schema does not allow.
    """
    where = str(path)
    with open_hdf5(path) as f:
        try:
            attrs = {key: plain(value) for key, value in f.attrs.items()}
        except OSError as exc:
            raise DataFileError(f"{where}: unreadable attributes, the file is truncated or corrupt ({exc})") from None
        check_format(attrs, where)
        entries = listed(f, where)
        try:
            spec = (schema or family_schema)(attrs, entries)
        except DataFileError as exc:
            raise DataFileError(f"{where}: {exc}; nothing was read; {FIX}") from None
        check_declared(entries, spec, where, what)
        arrays = read_checked(f, entries, where, spec, fix=FIX)
    return Frame(path=path, attrs=attrs, arrays=arrays)


def family_schema(attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, str | Array]:
    """:data:`SCHEMA`, with ``/counts`` held to ``num_classes`` (the schema of a codec that declares none)."""
    classes = attrs.get("num_classes")
    counts = Array("iu", shape=(classes,), low=0, meaning="samples per class",
                   implied_by=f"num_classes = {classes}") \
        if isinstance(classes, int) and not isinstance(classes, bool) else "iu"
    return {**SCHEMA, "counts": counts}


def count_attr(attrs: Mapping[str, Any], key: str) -> int | None:
    """A non-negative integer attribute, None when missing or not one (a schema then leaves the
    shape it sets open; the codec's checks name the attribute)."""
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        return None
    return int(value)


def int_attr(attrs: Mapping[str, Any], key: str, where: str) -> int:
    """An integer attribute.

    Raises:
        DataFileError: missing or not an integer.
    """
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataFileError(f"{where}: attribute {key!r} is missing or not an integer ({value!r})")
    return int(value)


def check_counts(counts: np.ndarray, num_classes: int, n: int, where: str) -> None:
    """Raise unless ``counts`` holds ``num_classes`` non-negative samples-per-class summing to ``n``."""
    if counts.shape != (num_classes,) or counts.min(initial=0) < 0 or int(counts.sum()) != n:
        raise DataFileError(f"{where}: /counts must hold {num_classes} non-negative counts summing to {n}")


def labels_of(counts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(counts [C] int64, y [N] int64) of rows grouped by class.

    >>> labels_of(np.array([2, 0, 1], dtype=np.int32))[1].tolist()
    [0, 0, 2]
    """
    counts_t = torch.from_numpy(np.asarray(counts).astype(np.int64))
    return counts_t, torch.repeat_interleave(torch.arange(len(counts_t)), counts_t)


def settings_of(attrs: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The ``settings`` attribute (TOML text) as a dict ({} when absent or empty).

    Raises:
        DataFileError: the text is not TOML (the message names ``where``).
    """
    text = attrs.get("settings") or ""
    if isinstance(text, bytes):
        text = text.decode()
    try:
        return tomllib.loads(str(text)) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(f"{where or 'distilled file'}: the settings attribute is not valid TOML ({exc}); "
                            "the file was edited or is corrupt, write it again") from None


def optional_attr(attrs: Mapping[str, Any], key: str) -> Any:
    """An attribute written as -1 or "" when unknown, as None then."""
    value = attrs.get(key, -1)
    return None if value in (-1, "") else value


# --- what every describe reports ---------------------------------------------------------------

def described_sizes(path: str | Path, attrs: Mapping[str, Any], elements: int, stored_bits: int,
                    papers_bits: int) -> dict[str, Any]:
    """What every ``describe`` reports after its codec's own keys: file size, the full set's
    size and the three compression ratios (None when the full set was not recorded), provenance
    and settings."""
    file_bytes = Path(path).stat().st_size
    full = attrs.get("source_samples", -1)
    full = None if full is None or full < 0 else int(full)

    def ratio(bits: int) -> float | None:
        return None if full is None or bits <= 0 else compression_ratio(bits, full, elements)

    return {
        "file_bytes": file_bytes,
        "source_samples": full,
        "full_set_bits": None if full is None else full * elements * FLOAT_BITS,
        "compression_ratio": ratio(stored_bits),
        "compression_ratio_papers": ratio(papers_bits),
        "compression_ratio_file": ratio(8 * file_bytes),
        "objective": optional_attr(attrs, "objective"),
        "spc": optional_attr(attrs, "spc"),
        "seed": optional_attr(attrs, "seed"),
        "source_sha256": optional_attr(attrs, "source_sha256"),
        "config": attrs.get("config", ""),
        "settings": attrs.get("settings", ""),
    }


# --- writing ---------------------------------------------------------------------------------

def write_frame(path: str | Path, arrays: Mapping[str, np.ndarray], *, payload: str, header: Mapping[str, Any],
                provenance: Provenance, accounting: Mapping[str, Any], config: str = "",
                settings: Mapping[str, Any] | None = None, class_names: Sequence[str] | None = None) -> None:
    """Write a distilled file atomically, attributes in the frame's order (module docstring).

    Args:
        path: output file (``.h5``).
        arrays: datasets in the order they are written (``a/b`` makes group ``a``).
        payload: the array ``sha256`` covers; ``arrays_sha256`` covers the others.
        header: the codec's attributes before the provenance.
        provenance: where the set came from.
        accounting: the codec's attributes after the provenance.
        config: TOML text of the codec's settings ("" when none).
        settings: further settings (stored as TOML text).
        class_names: ``C`` names (optional).

    Raises:
        ValueError: ``payload`` is not one of ``arrays``, or a header key the frame owns.
        OSError: the folder is not writable.
    """
    if payload not in arrays:
        raise ValueError(f"the payload {payload!r} is not among the arrays {list(arrays)}")
    owned = {"format", "format_version", *Provenance().attrs(), "config", "settings", "sha256", "arrays_sha256",
             "class_names", "beamsim_version"}
    clash = sorted(owned & (set(header) | set(accounting)))
    if clash:
        raise ValueError(f"attribute(s) {', '.join(clash)} belong to the frame; a codec cannot set them")
    attrs: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **header,
        **provenance.attrs(),
        **accounting,
        "config": config,
        "settings": tomlio.dumps(dict(settings or {})),
        "sha256": sha256((payload, arrays[payload])),
        "arrays_sha256": arrays_sha256(arrays, payload),
    }
    if class_names is not None:
        attrs["class_names"] = np.array([str(c) for c in class_names], dtype=h5py.string_dtype())
    attrs["beamsim_version"] = __version__
    with atomic_path(path, suffix=".h5.tmp") as tmp:
        with h5py.File(tmp, "w", libver="latest") as f:
            for key, value in arrays.items():
                f.create_dataset(key, data=value)
            for key, value in attrs.items():
                f.attrs[key] = value

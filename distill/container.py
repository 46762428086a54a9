"""The distilled-data file (HDF5): packed b-bit codes, thresholds, per-class counts, metadata.

Layout (one file)::

    /codes           uint8   [ceil(N * v * b / 8)]  b-bit codes of the v varying elements of
                                                   every sample, packed little-endian, row-major
    /alpha           float32 [...]                 thresholds (shape [0] for quantizers without)
    /quantizer/<k>   float32 [...]                 any other decode parameters (normalization,
                                                   PTQ ranges)
    /counts          int32   [C]                   samples per class; rows are grouped by class
    /constant_mask   bool    [*shape]              elements constant across the whole set (only
    /constant_codes  uint8   [k]                   when k > 0): stored once, not per sample
    attrs: format "beamsim.distilled", format_version, quantizer, bits, signed, levels,
           input_shape, num_samples, num_classes, class_names, source_sha256, source_samples,
           objective, spc, seed, payload_bits (N d b), payload_bits_stored (N v b),
           overhead_bits, config (TOML), settings (TOML), sha256 (of /codes),
           arrays_sha256 (of every other array), beamsim_version

A full-precision synthetic set is stored as float32 ``/x`` [N, v] (and ``/constant_values``
float32 [k]) instead of codes, with ``quantizer = "none"`` and ``bits = 32``.

:func:`load` decodes with the stored quantizer's own ``decode``, so the values equal the
quantizer's (eval-mode) forward output bit for bit.

A file with a ``codec`` attribute holds a patch-quantized set (PAQ/GAQ, optionally
range-coded) written by :mod:`beamsim.distill.compress`; :func:`read`, :func:`load` and
:func:`describe` hand such files to :mod:`beamsim.distill.compress.file`.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from beamsim import tomlio
from beamsim.distill.bits import FLOAT_BITS, compression_ratio, overhead_bits, payload_bits
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.quant import MAX_BITS, Quantizer, build_quantizer, quantizer_names
from beamsim.errors import DataFileError
from beamsim.fileio import atomic_path, open_hdf5

__all__ = ["FORMAT", "FORMAT_VERSION", "DistilledSet", "save", "load", "read", "describe", "format_of", "provenance_attrs",
           "write_file"]

FORMAT = "beamsim.distilled"
FORMAT_VERSION = 1
_FLOAT = "none"  # the quantizer attribute of a full-precision set


@dataclass
class DistilledSet:
    """A distilled file's content.

    Attributes:
        x: [N, *shape] float32, decoded values (rows grouped by class).
        y: [N] int64 labels.
        counts: [C] int64 samples per class.
        attrs: the file's attributes (plain Python values).
        quantizer: the quantizer rebuilt from the file (None for a float32 set).
        codes: [N, *shape] int64 codes (None for a float32 set).
    """

    x: torch.Tensor
    y: torch.Tensor
    counts: torch.Tensor
    attrs: dict
    quantizer: Quantizer | None
    codes: torch.Tensor | None


def _sha256(*arrays: tuple[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(arrays, key=lambda item: item[0]):
        value = np.ascontiguousarray(value)
        digest.update(f"{name}:{value.dtype.str}:{list(value.shape)};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _labels(y: torch.Tensor | np.ndarray | Sequence[int], n: int, num_classes: int | None) -> tuple[np.ndarray, int]:
    y = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape [{n}] (one per sample), got {list(y.shape)}")
    if n and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {y.dtype}")
    y = y.astype(np.int64)
    if n and y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    top = int(y.max()) + 1 if n else 0
    if num_classes is None:
        num_classes = top
    elif num_classes < top:
        raise ValueError(f"num_classes={num_classes} but a label is {top - 1}; raise num_classes")
    return y, int(num_classes)


def _constant_mask(values: np.ndarray) -> np.ndarray:
    """[N, d] -> [d] bool, True where every row holds the same value."""
    return (values == values[:1]).all(axis=0)


def save(path: str | Path, x: torch.Tensor, y: torch.Tensor | Sequence[int], quantizer: Quantizer | None = None, *,
         num_classes: int | None = None, class_names: Sequence[str] | None = None, source_sha256: str = "",
         source_samples: int | None = None, objective: str = "", spc: int | None = None, seed: int | None = None,
         settings: Mapping[str, Any] | None = None, constants_once: bool = True, source_path: str = "",
         encoding: str = "") -> dict:
    """Write a distilled set atomically.

    Args:
        path: output file (``.h5``).
        x: [N, *shape] float synthetic set, e.g. [N, 1, 8, 8]; with a quantizer, the raw
            (pre-quantization) values: the file holds ``quantizer.encode(x)`` (for FSQ, the
            latent: ``quantizer.to_latent(data)``).
        y: [N] integer labels in ``[0, num_classes)``. Rows are stored grouped by class
            (a stable sort by label), so pass them grouped to keep their order.
        quantizer: an APoT/uniform/FSQ/PTQ quantizer; it is initialized from ``x`` if it was
            not. None stores float32 values.
        num_classes: ``C`` (default ``max(y) + 1``); classes may have zero samples.
        class_names: ``C`` names (optional).
        source_sha256: checksum of the real data set the set was distilled from.
        source_samples: size of the full real training set (for the compression ratio).
        objective, spc, seed: how the set was made (stored as metadata).
        settings: further settings (stored as TOML text).
        source_path: path of the real data set it was distilled from (the default test set of
            ``beamsim evaluate``).
        encoding: input encoding of the source data (``relative``/``attenuation`` for beam
            maps), so evaluation encodes the test split the same way.
        constants_once: store elements that are constant across the whole set once.

    Returns:
        :func:`describe` of the written file.

    Raises:
        ValueError: inconsistent shapes, labels or names, non-finite values.
    """
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2:
        raise ValueError("x must be a float tensor [N, *sample_shape]")
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("x has no samples: a distilled set needs at least one")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    labels, num_classes = _labels(y, n, num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {num_classes} classes")
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=num_classes).astype(np.int32)
    shape = tuple(int(s) for s in x.shape[1:])
    d = int(np.prod(shape))
    x = x.detach()[torch.as_tensor(order, device=x.device)]

    arrays: dict[str, np.ndarray] = {"counts": counts}
    if quantizer is None:
        values = x.float().cpu().numpy().reshape(n, d)
        bits, name, levels, config_text = FLOAT_BITS, _FLOAT, "float32", ""
        signed = bool((values < 0).any())
        state: dict[str, np.ndarray] = {}
    else:
        if not quantizer.initialized:
            quantizer.initialize(x)
        values = quantizer.encode(x).cpu().numpy().reshape(n, d).astype(np.uint8)
        bits, name, signed, levels = quantizer.bits, quantizer.name, quantizer.signed, quantizer.levels_name
        config_text = tomlio.dumps(quantizer.resolved_config().as_dict())
        state = {k: v.detach().float().cpu().numpy() for k, v in quantizer.decode_state().items()}
    constant = _constant_mask(values) if constants_once else np.zeros(d, dtype=bool)
    k = int(constant.sum())
    varying = values[:, ~constant]
    if quantizer is None:
        arrays["x"] = np.ascontiguousarray(varying, dtype=np.float32)
        payload_name = "x"
        if k:
            arrays["constant_values"] = values[0, constant].astype(np.float32)
    else:
        arrays["codes"] = pack_codes(varying, bits)
        payload_name = "codes"
        if k:
            arrays["constant_codes"] = values[0, constant].astype(np.uint8)
    if k:
        arrays["constant_mask"] = constant.reshape(shape)
    arrays["alpha"] = state.pop("alpha", np.zeros(0, dtype=np.float32))
    for key, value in state.items():
        arrays[f"quantizer/{key}"] = value
    num_params = sum(v.size for key, v in arrays.items() if key == "alpha" or key.startswith("quantizer/"))

    attrs: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "quantizer": name,
        "bits": bits,
        "signed": bool(signed),
        "levels": levels,
        "input_shape": np.array(shape, dtype=np.int64),
        "num_samples": n,
        "num_classes": num_classes,
        **provenance_attrs(source_sha256=source_sha256, source_path=source_path, encoding=encoding,
                           source_samples=source_samples, objective=objective, spc=spc, seed=seed),
        "payload_bits": payload_bits(n, d, bits),
        "payload_bits_stored": payload_bits(n, d - k, bits),
        "overhead_bits": overhead_bits(num_params, num_classes, n, labels="counts", constant_elements=k,
                                       elements_per_sample=d, bits=bits),
        "config": config_text,
        "settings": tomlio.dumps(dict(settings or {})),
        "sha256": _sha256((payload_name, arrays[payload_name])),
        "arrays_sha256": _sha256(*[(key, v) for key, v in arrays.items() if key != payload_name]),
    }
    write_file(path, arrays, attrs, class_names)
    return describe(path)


def provenance_attrs(*, source_sha256: str = "", source_path: str = "", encoding: str = "",
                     source_samples: int | None = None, objective: str = "", spc: int | None = None,
                     seed: int | None = None) -> dict[str, Any]:
    """Where a distilled set came from, as file attributes (-1 or "" for unknown); shared by
    every codec of the ``beamsim.distilled`` family."""
    return {"source_sha256": str(source_sha256), "source_path": str(source_path), "encoding": str(encoding),
            "source_samples": -1 if source_samples is None else int(source_samples), "objective": str(objective),
            "spc": -1 if spc is None else int(spc), "seed": -1 if seed is None else int(seed)}


def write_file(path: str | Path, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any],
               class_names: Sequence[str] | None = None) -> None:
    """Write datasets and attributes (plus class names and the beamsim version) atomically."""
    from beamsim import __version__

    attrs = dict(attrs)
    if class_names is not None:
        attrs["class_names"] = np.array([str(c) for c in class_names], dtype=h5py.string_dtype())
    attrs["beamsim_version"] = __version__
    with atomic_path(path, suffix=".h5.tmp") as tmp:
        with h5py.File(tmp, "w", libver="latest") as f:
            for key, value in arrays.items():
                f.create_dataset(key, data=value)
            for key, value in attrs.items():
                f.attrs[key] = value


# --- reading ---------------------------------------------------------------------------------



def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_of(path: str | Path) -> str:
    """The ``format`` attribute of an HDF5 file ('' when it has none).

    Raises:
        DataFileError: missing file or not HDF5.
    """
    with open_hdf5(path) as f:
        return str(_plain(f.attrs.get("format", "")))


def _codec(path: str | Path) -> str:
    """The ``codec`` attribute ('' for the container's own files; see :mod:`beamsim.distill.compress.file`)."""
    with open_hdf5(path) as f:
        return str(_plain(f.attrs.get("codec", "")))


def _int_attr(attrs: dict, key: str, where: str) -> int:
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataFileError(f"{where}: attribute {key!r} is missing or not an integer ({value!r})")
    return int(value)


def _check_format(attrs: dict, where: str) -> None:
    """Raise unless ``attrs`` name this file family and a version this beamsim reads."""
    fmt = attrs.get("format", "")
    if fmt != FORMAT:
        found = f"format {fmt!r}" if fmt else "no 'format' attribute"
        raise DataFileError(f"{where}: not a beamsim distilled set ({found}; expected {FORMAT!r})")
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise DataFileError(f"{where}: format_version {version!r} is not supported (this beamsim reads {FORMAT_VERSION})")


def _check_counts(counts: np.ndarray, num_classes: int, n: int, where: str) -> None:
    """Raise unless ``counts`` holds ``num_classes`` non-negative samples-per-class summing to ``n``."""
    if counts.shape != (num_classes,) or counts.min(initial=0) < 0 or int(counts.sum()) != n:
        raise DataFileError(f"{where}: /counts must hold {num_classes} non-negative counts summing to {n}")


def _read_raw(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Attributes and arrays, with format, version, bits, sizes and checksums checked."""
    where = str(path)
    with open_hdf5(path) as f:
        try:
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
            _check_format(attrs, where)
            name = attrs.get("quantizer", "")
            bits = _int_attr(attrs, "bits", where)
            if name == _FLOAT:
                if bits != FLOAT_BITS:
                    raise DataFileError(f"{where}: a float32 set must have bits = 32, found {bits}")
                payload_name = "x"
            else:
                if not 1 <= bits <= MAX_BITS:
                    raise DataFileError(f"{where}: bits = {bits} is outside 1..{MAX_BITS}")
                if name not in quantizer_names():
                    raise DataFileError(f"{where}: unknown quantizer {name!r} (known: {', '.join(quantizer_names())})")
                payload_name = "codes"
            missing = [key for key in (payload_name, "counts", "alpha") if key not in f]
            if missing:
                raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
            arrays: dict[str, np.ndarray] = {}

            def visit(key: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    arrays[key] = obj[()]

            f.visititems(visit)
        except OSError as exc:
            raise DataFileError(f"{where}: unreadable array data, the file is truncated or corrupt ({exc})") from None
    n = _int_attr(attrs, "num_samples", where)
    num_classes = _int_attr(attrs, "num_classes", where)
    shape = tuple(int(s) for s in attrs.get("input_shape", []))
    if n < 1 or not shape or min(shape) < 1:
        raise DataFileError(f"{where}: num_samples {n} and input_shape {list(shape)} must be positive")
    _check_counts(arrays["counts"], num_classes, n, where)
    d = int(np.prod(shape))
    if "constant_mask" in arrays:
        mask = arrays["constant_mask"]
        if mask.shape != shape or mask.dtype != np.bool_:
            raise DataFileError(f"{where}: /constant_mask must be bool of shape {list(shape)}")
        k = int(mask.sum())
    else:
        k = 0
    const_name = "constant_values" if payload_name == "x" else "constant_codes"
    if k and arrays.get(const_name, np.zeros(0)).shape != (k,):
        raise DataFileError(f"{where}: /{const_name} must hold one value per constant element ({k})")
    payload = arrays[payload_name]
    if payload_name == "codes":
        want = packed_size(n * (d - k), bits)
        if payload.dtype != np.uint8 or payload.shape != (want,):
            raise DataFileError(f"{where}: /codes has {payload.size} bytes, expected {want} for {n} samples of "
                                f"{d - k} stored elements at {bits} bits (truncated or corrupt)")
    elif payload.shape != (n, d - k) or payload.dtype != np.float32:
        raise DataFileError(f"{where}: /x must be float32 [{n}, {d - k}], found {payload.dtype} {list(payload.shape)}")
    if attrs.get("sha256") != _sha256((payload_name, payload)):
        raise DataFileError(f"{where}: checksum mismatch: /{payload_name} does not match its stored sha256 "
                            "(file corrupt or edited)")
    others = [(key, value) for key, value in arrays.items() if key != payload_name]
    if attrs.get("arrays_sha256") != _sha256(*others):
        raise DataFileError(f"{where}: checksum mismatch: thresholds, counts or constants do not match the stored "
                            "arrays_sha256 (file corrupt or edited)")
    return attrs, arrays


def _quantizer_from(attrs: dict, arrays: dict[str, np.ndarray], where: str) -> Quantizer:
    try:
        config = tomllib.loads(attrs.get("config", ""))
        quantizer = build_quantizer(attrs["quantizer"], **config)
        state = {key.split("/", 1)[1]: torch.from_numpy(value) for key, value in arrays.items()
                 if key.startswith("quantizer/")}
        if arrays["alpha"].size:
            state["alpha"] = torch.from_numpy(arrays["alpha"])
        quantizer.load_decode_state(state)
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        raise DataFileError(f"{where}: the stored quantizer cannot be rebuilt ({exc})") from None
    if quantizer.bits != attrs["bits"]:
        raise DataFileError(f"{where}: bits = {attrs['bits']} disagrees with the quantizer config ({quantizer.bits})")
    return quantizer


def read(path: str | Path, device: str | torch.device | None = None) -> DistilledSet:
    """Read, validate and decode a distilled file.

    Args:
        path: a file written by :func:`save`.
        device: where the returned tensors go (decoding runs on the CPU; values do not change).

    Raises:
        DataFileError: missing, truncated or foreign file; wrong format or version; bits
            outside 1..8; sizes that do not add up; checksum mismatch (each message says which).
    """
    if _codec(path):
        from beamsim.distill.compress.file import read_compressed

        return read_compressed(path, device=device)
    where = str(path)
    attrs, arrays = _read_raw(path)
    n, shape = attrs["num_samples"], tuple(attrs["input_shape"])
    d = int(np.prod(shape))
    mask = arrays.get("constant_mask", np.zeros(shape, dtype=bool)).reshape(d)
    k = int(mask.sum())
    if attrs["quantizer"] == _FLOAT:
        flat = np.empty((n, d), dtype=np.float32)
        flat[:, ~mask] = arrays["x"]
        if k:
            flat[:, mask] = arrays["constant_values"]
        x = torch.from_numpy(flat.reshape((n, *shape)))
        quantizer, codes = None, None
    else:
        bits = attrs["bits"]
        flat = np.empty((n, d), dtype=np.uint8)
        flat[:, ~mask] = unpack_codes(arrays["codes"], bits, n * (d - k)).reshape(n, d - k)
        if k:
            flat[:, mask] = arrays["constant_codes"]
        quantizer = _quantizer_from(attrs, arrays, where)
        codes = torch.from_numpy(flat.reshape((n, *shape)).astype(np.int64))
        if int(codes.max()) >= quantizer.num_levels:
            raise DataFileError(f"{where}: a code is {int(codes.max())}, but {quantizer.levels_name} has only "
                                f"{quantizer.num_levels} levels (file corrupt)")
        try:
            x = quantizer.decode(codes)
        except ValueError as exc:
            raise DataFileError(f"{where}: the codes do not fit the stored thresholds ({exc})") from None
    counts = torch.from_numpy(arrays["counts"].astype(np.int64))
    y = torch.repeat_interleave(torch.arange(len(counts)), counts)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return DistilledSet(x=x, y=y, counts=counts, attrs=attrs, quantizer=quantizer, codes=codes)


def load(path: str | Path, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded set of a distilled file.

    Returns:
        (x [N, *shape] float32, y [N] int64), rows grouped by class; ``x`` equals the
        quantizer's forward output bit for bit.

    Raises:
        DataFileError: see :func:`read`.
    """
    data = read(path, device=device)
    return data.x, data.y


def describe(path: str | Path) -> dict:
    """A summary of a distilled file for reports and ``beamsim info`` (arrays are validated,
    not decoded).

    Returns a dict with: path, format, format_version, quantizer, bits, signed, levels,
    input_shape, num_samples, num_classes, samples_per_class, class_names, elements_per_sample,
    constant_elements, payload_bits (papers' N d b), payload_bits_stored, overhead_bits,
    total_bits_stored, file_bytes, source_samples, full_set_bits, compression_ratio (full set
    at 32 bits / stored bits), compression_ratio_papers (full set / N d b),
    compression_ratio_file (full set / file bytes), objective, spc, seed, source_sha256,
    config, settings. Ratios are None when the full-set size was not recorded.

    A patch-quantized file (``codec`` attribute) adds codec, entropy, patch, groups and the
    byte breakdown ``bytes`` (see :func:`beamsim.distill.compress.file.describe_compressed`).
    """
    if _codec(path):
        from beamsim.distill.compress.file import describe_compressed

        return describe_compressed(path)
    attrs, arrays = _read_raw(path)
    shape = [int(s) for s in attrs["input_shape"]]
    d = int(np.prod(shape))
    k = int(arrays["constant_mask"].sum()) if "constant_mask" in arrays else 0
    payload_papers, payload_stored = int(attrs["payload_bits"]), int(attrs["payload_bits_stored"])
    overhead = int(attrs["overhead_bits"])

    return {
        "path": str(path),
        "format": attrs["format"],
        "format_version": attrs["format_version"],
        "quantizer": attrs["quantizer"],
        "bits": int(attrs["bits"]),
        "signed": bool(attrs.get("signed", False)),
        "levels": attrs.get("levels", ""),
        "input_shape": shape,
        "num_samples": int(attrs["num_samples"]),
        "num_classes": int(attrs["num_classes"]),
        "samples_per_class": [int(c) for c in arrays["counts"]],
        "class_names": attrs.get("class_names"),
        "elements_per_sample": d,
        "constant_elements": k,
        "payload_bits": payload_papers,
        "payload_bits_stored": payload_stored,
        "overhead_bits": overhead,
        "total_bits_stored": payload_stored + overhead,
        **described_sizes(path, attrs, d, payload_stored + overhead, payload_papers),
    }


def optional_attr(attrs: Mapping[str, Any], key: str) -> Any:
    """An attribute written as -1 or "" when unknown, as None then."""
    value = attrs.get(key, -1)
    return None if value in (-1, "") else value


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

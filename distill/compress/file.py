"""Patch-quantized sets in the distilled-data file family (HDF5, ``format = "beamsim.distilled"``).

The file is a distilled file whose ``codec`` attribute names the patch codec; files without
``codec`` are the container's own (:mod:`beamsim.distill.container`), which hands files with
one to :func:`read_compressed` and :func:`describe_compressed`, so ``beamsim.distill.load``,
``describe`` and ``beamsim info`` / ``evaluate`` work on both. Layout::

    /codes           uint8   [bytes]   range-coded codes (entropy "range": the coder's stream,
                                       with its length and CRC32) or b-bit packed codes ("none")
    /scale           float32 [G]       scale per parameter row
    /zero_point      int32   [G]       zero point per parameter row
    /groups          uint8   [bytes]   gaq only: one ceil(log2 G)-bit group index per patch,
                                       packed little-endian, sample-major
    /counts          int32   [C]       samples per class; rows are grouped by class
    /constant_mask   bool    [C,H,W]   (only when some elements are constant across the set)
    /constant_values float32 [k]
    attrs: format "beamsim.distilled", format_version, codec ("paq" | "gaq"), entropy ("range" |
           "none"), quantizer (= codec, so older readers refuse the file by name), bits,
           patch [ph, pw], num_groups, index_bits, input_shape, num_samples, num_classes,
           class_names, source_sha256, source_path, encoding, source_samples, objective, spc,
           seed, budget_bytes, bytes_group_indices, bytes_parameters, bytes_codes,
           bytes_codes_packed, bytes_constants, bytes_labels, payload_bits (N d b),
           payload_bits_stored, overhead_bits, config (TOML), settings (TOML),
           sha256 (of /codes), arrays_sha256 (of every other array), beamsim_version

PAQ (``codec = "paq"``) stores one parameter row per patch (row ``n P + p``) and no indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from beamsim import tomlio
from beamsim.distill.bits import FLOAT_BITS, HEADER_BITS, payload_bits
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.compress import coder
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import QuantizedSet, index_bits, pack_indices, unpack_indices
from beamsim.errors import DataFileError
from beamsim.fileio import open_hdf5

__all__ = ["CODECS", "ENTROPY", "save_compressed", "read_compressed", "read_quantized", "describe_compressed"]

#: Values of the ``codec`` attribute this module reads.
CODECS = ("paq", "gaq")
#: Values of the ``entropy`` attribute.
ENTROPY = ("range", "none")


def save_compressed(path: str | Path, quantized: QuantizedSet, counts: torch.Tensor | Sequence[int], *,
                    stream: bytes | None = None, config: CompressConfig | None = None,
                    budget_bytes: int | None = None, samples_per_class: int | None = None,
                    class_names: Sequence[str] | None = None, source_sha256: str = "", source_path: str = "",
                    encoding: str = "", source_samples: int | None = None, objective: str = "",
                    seed: int | None = None, settings: Mapping[str, Any] | None = None) -> dict:
    """Write a patch-quantized set atomically.

    Args:
        path: output file (``.h5``).
        quantized: the set, rows grouped by class.
        counts: [C] samples per class (summing to the rows of ``quantized``).
        stream: the range-coded codes (:func:`~.coder.encode`); None stores packed codes.
        config: the settings it was made with (stored as TOML).
        budget_bytes, samples_per_class: what the budget search worked with.
        class_names, source_sha256, source_path, encoding, source_samples, objective, seed,
            settings: metadata, as for :func:`beamsim.distill.container.save`.

    Returns:
        :func:`describe_compressed` of the written file.

    Raises:
        ValueError: counts that do not add up, a stream of other codes, names of the wrong count.
    """
    from beamsim.distill.container import FORMAT, FORMAT_VERSION, _sha256, provenance_attrs, write_file

    counts = np.asarray(torch.as_tensor(counts).cpu().numpy(), dtype=np.int64)
    n, layout = quantized.num_samples, quantized.layout
    if counts.ndim != 1 or counts.min(initial=0) < 0 or int(counts.sum()) != n:
        raise ValueError(f"counts must be non-negative and sum to the {n} samples, got {counts.tolist()}")
    if class_names is not None and len(class_names) != len(counts):
        raise ValueError(f"class_names has {len(class_names)} names for {len(counts)} classes")
    codes = quantized.codes.numpy()
    if stream is not None:
        bits, count, _ = coder.stream_info(stream)
        if bits != quantized.bits or count != codes.size:
            raise ValueError(f"the stream holds {count} codes of {bits} bits, the set {codes.size} of {quantized.bits}")
        payload = np.frombuffer(stream, dtype=np.uint8).copy()
    else:
        payload = pack_codes(codes, quantized.bits)
    sizes = quantized.sizes(None if stream is None else len(stream), len(counts))
    arrays: dict[str, np.ndarray] = {
        "codes": payload,
        "scale": quantized.scale.numpy().astype(np.float32),
        "zero_point": quantized.zero_point.numpy().astype(np.int32),
        "counts": counts.astype(np.int32),
    }
    if quantized.group is not None:
        arrays["groups"] = pack_indices(quantized.group, quantized.index_bits)
    k = int(layout.constant.sum())
    if k:
        arrays["constant_mask"] = layout.constant.numpy()
        arrays["constant_values"] = layout.constant_values.numpy().astype(np.float32)
    decoded_min = float(quantized.decode().min()) if n else 0.0
    attrs: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "codec": quantized.codec,
        "entropy": "none" if stream is None else "range",
        "quantizer": quantized.codec,
        "bits": quantized.bits,
        "signed": decoded_min < 0,
        "levels": f"{quantized.codec}-{quantized.bits}",
        "patch": np.array(layout.patch, dtype=np.int64),
        "num_groups": quantized.num_groups,
        "index_bits": quantized.index_bits,
        "input_shape": np.array(layout.shape, dtype=np.int64),
        "num_samples": n,
        "num_classes": len(counts),
        **provenance_attrs(source_sha256=source_sha256, source_path=source_path, encoding=encoding,
                           source_samples=source_samples, objective=objective, spc=samples_per_class, seed=seed),
        "budget_bytes": -1 if budget_bytes is None else int(budget_bytes),
        "bytes_group_indices": sizes.group_indices,
        "bytes_parameters": sizes.parameters,
        "bytes_codes": sizes.codes,
        "bytes_codes_packed": packed_size(codes.size, quantized.bits),
        "bytes_constants": sizes.constants,
        "bytes_labels": sizes.labels,
        "payload_bits": payload_bits(n, layout.elements, quantized.bits),
        "payload_bits_stored": 8 * sizes.codes,
        "overhead_bits": 8 * (sizes.total - sizes.codes) + HEADER_BITS,
        "config": tomlio.dumps(config.as_dict()) if config is not None else "",
        "settings": tomlio.dumps(dict(settings or {})),
        "sha256": _sha256(("codes", payload)),
        "arrays_sha256": _sha256(*[(key, v) for key, v in arrays.items() if key != "codes"]),
    }
    write_file(path, arrays, attrs, class_names)
    return describe_compressed(path)


def _read_raw(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Attributes and arrays, with format, codec, sizes and checksums checked."""
    from beamsim.distill.container import _check_counts, _check_format, _int_attr, _plain, _sha256

    where = str(path)
    with open_hdf5(path) as f:
        try:
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
            arrays = {key: f[key][()] for key in f.keys() if isinstance(f[key], h5py.Dataset)}
        except OSError as exc:
            raise DataFileError(f"{where}: unreadable array data, the file is truncated or corrupt ({exc})") from None
    _check_format(attrs, where)
    if attrs.get("codec") not in CODECS:
        raise DataFileError(f"{where}: unknown codec {attrs.get('codec')!r} (known: {', '.join(CODECS)})")
    if attrs.get("entropy") not in ENTROPY:
        raise DataFileError(f"{where}: unknown entropy coding {attrs.get('entropy')!r} (known: {', '.join(ENTROPY)})")
    bits = _int_attr(attrs, "bits", where)
    if not 1 <= bits <= 8:
        raise DataFileError(f"{where}: bits = {bits} is outside 1..8")
    n = _int_attr(attrs, "num_samples", where)
    num_classes = _int_attr(attrs, "num_classes", where)
    groups = _int_attr(attrs, "num_groups", where)
    shape = tuple(int(s) for s in attrs.get("input_shape", []))
    patch = tuple(int(s) for s in attrs.get("patch", []))
    if n < 1 or len(shape) != 3 or min(shape) < 1 or len(patch) != 2 or min(patch) < 1:
        raise DataFileError(f"{where}: num_samples {n}, input_shape {list(shape)} and patch {list(patch)} must be "
                            "positive (input_shape [C, H, W], patch [ph, pw])")
    needed = ["codes", "scale", "zero_point", "counts"] + (["groups"] if attrs["codec"] == "gaq" else [])
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
    counts = arrays["counts"]
    _check_counts(counts, num_classes, n, where)
    if arrays["scale"].shape != (groups,) or arrays["scale"].dtype != np.float32 \
            or arrays["zero_point"].shape != (groups,) or arrays["zero_point"].dtype != np.int32:
        raise DataFileError(f"{where}: /scale and /zero_point must be float32 and int32 [{groups}] (num_groups)")
    if attrs.get("sha256") != _sha256(("codes", arrays["codes"])):
        raise DataFileError(f"{where}: checksum mismatch: /codes does not match its stored sha256 "
                            "(file corrupt or edited)")
    if attrs.get("arrays_sha256") != _sha256(*[(k, v) for k, v in arrays.items() if k != "codes"]):
        raise DataFileError(f"{where}: checksum mismatch: parameters, group indices, counts or constants do not "
                            "match the stored arrays_sha256 (file corrupt or edited)")
    return attrs, arrays


def read_quantized(path: str | Path) -> tuple[QuantizedSet, dict, dict[str, np.ndarray]]:
    """The stored set before dequantization, with the attributes and raw arrays.

    Raises:
        DataFileError: see :func:`read_compressed`.
    """
    where = str(path)
    attrs, arrays = _read_raw(path)
    n, bits, groups = attrs["num_samples"], attrs["bits"], attrs["num_groups"]
    shape = tuple(int(s) for s in attrs["input_shape"])
    mask = arrays.get("constant_mask", np.zeros(shape, dtype=bool))
    try:
        layout = PatchLayout.from_mask(shape, tuple(int(s) for s in attrs["patch"]), torch.from_numpy(mask),
                                       torch.from_numpy(arrays.get("constant_values", np.zeros(0, np.float32))))
    except ValueError as exc:
        raise DataFileError(f"{where}: /constant_mask and /constant_values do not agree ({exc})") from None
    count = n * layout.varying
    if attrs["entropy"] == "range":
        codes = coder.decode(arrays["codes"])
        stream_bits = coder.stream_info(arrays["codes"].tobytes())[0]
        if stream_bits != bits or codes.size != count:
            raise DataFileError(f"{where}: /codes holds {codes.size} codes of {stream_bits} bits, expected {count} "
                                f"of {bits} (file corrupt)")
    else:
        if arrays["codes"].shape != (packed_size(count, bits),):
            raise DataFileError(f"{where}: /codes has {arrays['codes'].size} bytes, expected "
                                f"{packed_size(count, bits)} for {count} codes of {bits} bits (truncated or corrupt)")
        codes = unpack_codes(arrays["codes"], bits, count)
    patches = n * layout.num_patches
    if attrs["codec"] == "paq":
        group = None
        if groups != patches:
            raise DataFileError(f"{where}: a paq file needs one parameter row per patch ({patches}), found {groups}")
    else:
        ibits = index_bits(max(groups, 1))
        if attrs.get("index_bits") != ibits or arrays["groups"].shape != ((patches * ibits + 7) // 8,):
            raise DataFileError(f"{where}: /groups must hold {patches} indices of {ibits} bits (truncated or corrupt)")
        group = torch.from_numpy(unpack_indices(arrays["groups"], ibits, patches)).reshape(n, layout.num_patches)
        if patches and int(group.max()) >= groups:
            raise DataFileError(f"{where}: a group index is {int(group.max())}, but there are {groups} groups")
    if not (np.isfinite(arrays["scale"]).all() and (arrays["scale"] > 0).all()):
        raise DataFileError(f"{where}: /scale must hold positive finite values (file corrupt)")
    quantized = QuantizedSet(codes=torch.from_numpy(codes.reshape(n, layout.varying)),
                             scale=torch.from_numpy(arrays["scale"]), zero_point=torch.from_numpy(arrays["zero_point"]),
                             group=group, layout=layout, bits=bits)
    return quantized, attrs, arrays


def read_compressed(path: str | Path, device: str | torch.device | None = None):
    """Read, validate and decode a patch-quantized file.

    Returns:
        a :class:`beamsim.distill.container.DistilledSet` (``quantizer`` and ``codes`` None).

    Raises:
        DataFileError: missing, truncated or foreign file; unknown codec; sizes that do not
            add up; checksum or CRC mismatch (each message says which).
    """
    from beamsim.distill.container import DistilledSet

    quantized, attrs, arrays = read_quantized(path)
    x = quantized.decode()
    counts = torch.from_numpy(arrays["counts"].astype(np.int64))
    y = torch.repeat_interleave(torch.arange(len(counts)), counts)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return DistilledSet(x=x, y=y, counts=counts, attrs=attrs, quantizer=None, codes=None)


def describe_compressed(path: str | Path) -> dict:
    """:func:`beamsim.distill.container.describe` for a patch-quantized file: the same keys,
    plus ``codec``, ``entropy``, ``patch``, ``groups``, ``index_bits``, ``budget_bytes`` and
    ``bytes`` (the byte breakdown: group_indices, parameters, codes, codes_packed, constants,
    labels, payload, total). Arrays are validated, codes are not decoded.
    """
    from beamsim.distill.container import described_sizes, optional_attr

    attrs, arrays = _read_raw(path)
    shape = [int(s) for s in attrs["input_shape"]]
    d = int(np.prod(shape))
    k = int(arrays["constant_mask"].sum()) if "constant_mask" in arrays else 0
    breakdown = {key: int(attrs.get(f"bytes_{key}", 0)) for key in
                 ("group_indices", "parameters", "codes", "codes_packed", "constants", "labels")}
    breakdown["payload"] = sum(breakdown[key] for key in ("group_indices", "parameters", "codes", "constants"))
    breakdown["total"] = breakdown["payload"] + breakdown["labels"]
    n = int(attrs["num_samples"])
    stored_bits = 8 * breakdown["total"] + HEADER_BITS
    return {
        "path": str(path),
        "format": attrs["format"],
        "format_version": attrs["format_version"],
        "codec": attrs["codec"],
        "entropy": attrs["entropy"],
        "quantizer": attrs["quantizer"],
        "bits": int(attrs["bits"]),
        "signed": bool(attrs.get("signed", False)),
        "levels": attrs.get("levels", ""),
        "patch": [int(s) for s in attrs["patch"]],
        "groups": int(attrs["num_groups"]),
        "index_bits": int(attrs.get("index_bits", 0)),
        "input_shape": shape,
        "num_samples": n,
        "num_classes": int(attrs["num_classes"]),
        "samples_per_class": [int(c) for c in arrays["counts"]],
        "class_names": attrs.get("class_names"),
        "elements_per_sample": d,
        "constant_elements": k,
        "bytes": breakdown,
        "budget_bytes": optional_attr(attrs, "budget_bytes"),
        "float32_bytes": n * d * FLOAT_BITS // 8,
        "payload_bits": int(attrs["payload_bits"]),
        "payload_bits_stored": int(attrs["payload_bits_stored"]),
        "overhead_bits": int(attrs["overhead_bits"]),
        "total_bits_stored": stored_bits,
        "bits_per_element": round(8 * breakdown["payload"] / max(n * d, 1), 4),
        **described_sizes(path, attrs, d, stored_bits, int(attrs["payload_bits"])),
    }

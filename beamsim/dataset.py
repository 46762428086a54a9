"""The beam-management data-set file (HDF5) and the torch ``BeamDataset`` that reads it.

Layout (one file)::

    /rsrp    float32 [N, E, A]  true RSRP per beam [dBm] (E elevation x A azimuth beams)
    /mask    bool    [N, E, A]  True = measured
    /label   int16   [N]        best beam index, el * A + az
    /ue_pos  float32 [N, 3]     UE position [m] relative to the BS
    /los     bool    [N]        line of sight to the BS
    /split   uint8   [N]        0 = train, 1 = test
    /rsrp_measured float32 [N, E, A]  (only with measurement noise or a reporting grid) the
             RSRP a UE reports [dBm]; model inputs use it, labels and KPIs use /rsrp
    /rsrp_setb float32 [N, kr, kc]  (format version 2, wide Set B only) the reported RSRP of
             the wide beams [dBm]: the model inputs; /mask is then all False
    attrs: format, format_version, scenario (TOML), seed, input_scale, mask_kind,
           sionna_version, beamsim_version, created, sha256 (version 2 adds the Set A / Set B
           attributes of :mod:`beamsim.simulation.layout`)

For the UE side (version 1) E x A is the UE's beam grid; for the BS side and Tx-Rx pairs
(version 2) it is Set A (:mod:`beamsim.scenarios.beams`). Model inputs are a fixed transform
of the *observed* RSRP (never the label), :mod:`beamsim.encoding`:

- ``relative``: RSRP minus the strongest observed RSRP, clipped to [-30, 0] dB and mapped to
  [0, 1] (strongest observed -> 1); unobserved entries 0.
- ``attenuation``: dB below the strongest observed beam / 30, clipped to [0, 1] (strongest
  observed -> 0); unobserved entries 1.

:data:`DEFAULT_ENCODING` is the one default of every entry point (``BeamDataset``,
:func:`encode_inputs`, evaluation, distillation, studies, the CLI); a distilled file records
the encoding it was made with and is always evaluated with it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch

from beamsim.encoding import (DEFAULT_ENCODING, ENCODINGS, INPUT_RANGE_DB, Encoding, encode_inputs,
                              random_masks)
from beamsim.errors import DataFileError
from beamsim.fileio import atomic_path, open_hdf5
from beamsim.h5safe import Array, check_declared, check_values, listed, read_checked

__all__ = [
    "FORMAT", "FORMAT_VERSION", "READ_VERSIONS", "SEQUENCE_FORMAT_VERSION", "INPUT_RANGE_DB", "RSRP_MIN_DBM", "RSRP_MAX_DBM", "MEASURED_MARGIN_DB", "BeamArrays", "arrays_checksum", "write_dataset", "write_arrays",
    "read_dataset", "read_attrs", "encode_inputs", "random_masks", "BeamDataset", "Encoding", "ENCODINGS",
    "DEFAULT_ENCODING", "Split",
]

FORMAT = "beamsim.dataset"
FORMAT_VERSION = 1
#: The versions this module reads: 1 (UE side) and 2 (BS side, Tx-Rx pairs, wide Set B).
READ_VERSIONS = (1, 2)
#: The version of sequence files of moving UEs (read by :mod:`beamsim.sequences`, not here).
SEQUENCE_FORMAT_VERSION = 3
#: Lowest true RSRP a file may hold [dBm]: the floor ``beam_rsrp`` gives a beam that receives no
#: power (-300 dBm is 1e-33 W, far below any receiver's noise floor, about -130 dBm per RE).
RSRP_MIN_DBM = -300.0
#: Highest true RSRP a file may hold [dBm]: 1 kW received per resource element. A base station
#: radiates at most about +80 dBm EIRP over the whole band, and even 1 m of free space at 1 GHz
#: takes 32 dB, so a larger value is a corrupt or foreign number, not a measurement.
RSRP_MAX_DBM = 60.0
#: How far beyond those bounds a reported RSRP (``/rsrp_measured``, noise and grid added) may lie [dB].
MEASURED_MARGIN_DB = 100.0
#: What a refusal of a data set's content says to do.
FIX = "the file is corrupt or was edited; make it again with beamsim generate, or get it again from its source"

Split = Literal["train", "test", "all"]

_SPEC = {  # name: (dtype, trailing shape or None for "beam grid")
    "rsrp": (np.float32, None),
    "mask": (np.bool_, None),
    "label": (np.int16, ()),
    "ue_pos": (np.float32, (3,)),
    "los": (np.bool_, ()),
    "split": (np.uint8, ()),
    "rsrp_measured": (np.float32, None),
    "rsrp_setb": (np.float32, "setb"),
}
_OPTIONAL = {"rsrp_measured", "rsrp_setb"}
#: The dtype kinds a data-set file may hold, by dataset (the shapes and values: :func:`_schema`).
_KINDS = {name: np.dtype(dtype).kind for name, (dtype, _) in _SPEC.items()}


def _schema(rows: int | None, grid: tuple[int, ...] | None) -> dict[str, Array]:
    """What each array may be: dtype kinds, shape ([N] or [N, E, A] from /rsrp's declared
    shape; None: open) and values (finite RSRP within the bounds above, finite positions,
    labels in [0, E A), split 0 or 1)."""
    beams = None if grid is None or len(grid) != 2 else int(grid[0] * grid[1])
    cube = (rows, None, None) if grid is None else (rows, *grid)
    by = f"/rsrp's shape [N, E, A] = {[rows, *(grid or ())]}"
    rsrp = f"an RSRP [dBm]: {RSRP_MIN_DBM:g} (no power) to {RSRP_MAX_DBM:+g}"
    reported = f"a reported RSRP [dBm], within {MEASURED_MARGIN_DB:g} dB of the true-RSRP bounds"
    return {
        "rsrp": Array("f", shape=cube, finite=True, low=RSRP_MIN_DBM, high=RSRP_MAX_DBM, meaning=rsrp, implied_by=by),
        "mask": Array("b", shape=cube, implied_by=by),
        "label": Array(_KINDS["label"], shape=(rows,), low=0, high=None if beams is None else beams - 1,
                       meaning="best-beam indices", implied_by=by),
        "ue_pos": Array("f", shape=(rows, 3), finite=True, meaning="UE positions [m]", implied_by=by),
        "los": Array("b", shape=(rows,), implied_by=by),
        "split": Array(_KINDS["split"], shape=(rows,), low=0, high=1, meaning="0 = train, 1 = test", implied_by=by),
        "rsrp_measured": Array("f", shape=cube, finite=True, low=RSRP_MIN_DBM - MEASURED_MARGIN_DB,
                               high=RSRP_MAX_DBM + MEASURED_MARGIN_DB, meaning=reported, implied_by=by),
        "rsrp_setb": Array("f", shape=(rows, None, None), finite=True, low=RSRP_MIN_DBM - MEASURED_MARGIN_DB,
                           high=RSRP_MAX_DBM + MEASURED_MARGIN_DB, meaning=reported, implied_by=by),
    }


@dataclass
class BeamArrays:
    """The arrays of one data set (numpy, CPU).

    Attributes:
        rsrp: [N, E, A] float32, true RSRP per beam [dBm].
        mask: [N, E, A] bool, True where the beam is measured.
        label: [N] int16, index of the strongest beam (el * A + az).
        ue_pos: [N, 3] float32, UE position relative to the BS [m].
        los: [N] bool, line of sight.
        split: [N] uint8, 0 = train, 1 = test.
        rsrp_measured: [N, E, A] float32 or None, reported RSRP with noise/grid [dBm].
        rsrp_setb: [N, kr, kc] float32 or None, reported RSRP of the wide Set B beams [dBm].
    """

    rsrp: np.ndarray
    mask: np.ndarray
    label: np.ndarray
    ue_pos: np.ndarray
    los: np.ndarray
    split: np.ndarray
    rsrp_measured: np.ndarray | None = None
    rsrp_setb: np.ndarray | None = None

    @property
    def observed(self) -> np.ndarray:
        """What the UE reports: ``rsrp_measured`` when present, else the true ``rsrp``."""
        return self.rsrp if self.rsrp_measured is None else self.rsrp_measured

    def __len__(self) -> int:
        return int(self.rsrp.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name, in file order; ``rsrp_measured`` only when present."""
        return {name: getattr(self, name) for name in _SPEC if getattr(self, name) is not None}

    def subset(self, index: np.ndarray) -> "BeamArrays":
        return BeamArrays(**{k: v[index] for k, v in self.as_dict().items()})

    @staticmethod
    def concatenate(parts: list["BeamArrays"]) -> "BeamArrays":
        """Rows of ``parts`` one after the other."""
        names = parts[0].as_dict().keys()
        return BeamArrays(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def arrays_checksum(arrays) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes, in file order (``arrays``: any
    object with ``as_dict()``, e.g. :class:`BeamArrays`)."""
    digest = hashlib.sha256()
    for name, value in arrays.as_dict().items():
        value = np.ascontiguousarray(value)
        digest.update(f"{name}:{value.dtype.str}:{value.shape};".encode())
        digest.update(value.reshape(-1).view(np.uint8))  # the bytes, without a copy
    return digest.hexdigest()


def _validate(arrays: BeamArrays, where: str, values: bool = True, fix: str = FIX) -> None:
    """Raise DataFileError at the first wrong shape, dtype, sample without a measured beam or
    (``values``) value (:func:`_schema`; ``fix``: what the message says to do)."""
    n = len(arrays)
    if arrays.rsrp.ndim != 3:
        raise DataFileError(f"{where}: /rsrp must have shape [N, E, A], found {list(arrays.rsrp.shape)}")
    grid = arrays.rsrp.shape[1:]
    schema = _schema(n, grid)
    for name, (dtype, tail) in _SPEC.items():
        value = getattr(arrays, name)
        if value is None and name in _OPTIONAL:
            continue
        if tail == "setb" and value.ndim != 3:
            raise DataFileError(f"{where}: /{name} must have shape [N, kr, kc], found {list(value.shape)}")
        want = (n, *grid) if tail is None else (n, *value.shape[1:]) if tail == "setb" else (n, *tail)
        if value.shape != want:
            raise DataFileError(f"{where}: /{name} has shape {list(value.shape)}, expected {list(want)}")
        if value.dtype != np.dtype(dtype):
            raise DataFileError(f"{where}: /{name} has dtype {value.dtype}, expected {np.dtype(dtype)}")
        if values:
            check_values(name, value, schema[name], where, fix=fix)
    if n == 0:
        raise DataFileError(f"{where}: the data set has no samples")
    if arrays.rsrp_setb is None and not arrays.mask.reshape(n, -1).any(axis=1).all():
        raise DataFileError(f"{where}: some samples have no measured beam in /mask")


def write_dataset(path: str | Path, arrays: BeamArrays, attrs: dict) -> str:
    """Validate and write ``arrays`` to ``path`` atomically; return the checksum.

    ``attrs`` holds at least ``scenario`` (TOML text) and ``seed``; format, version, creation
    time and checksum are added here.
    """
    _validate(arrays, str(path), fix="nothing was written; the simulation gave values a data set cannot hold, "
                                    "check the scenario (e.g. measurement.tx_power_dbm)")
    return write_arrays(path, arrays, {"format_version": FORMAT_VERSION,
                                       "input_scale": np.array([-INPUT_RANGE_DB, 0.0], dtype=np.float32)}, attrs)


def write_arrays(path: str | Path, arrays, header: dict, attrs: dict) -> str:
    """Write checked arrays to ``path`` atomically as a ``beamsim.dataset`` file; return the checksum.

    Args:
        arrays: an object with ``as_dict()`` (:class:`BeamArrays`, :class:`beamsim.sequences.SequenceArrays`).
        header: the format's own attributes (``format_version``, ...), written after ``format``.
        attrs: the run's attributes, written after ``beamsim_version`` and ``created`` (they may
            override ``format_version``); ``sha256`` comes last.
    """
    checksum = arrays_checksum(arrays)
    from beamsim import __version__

    with atomic_path(path, suffix=".h5.tmp") as tmp:
        with h5py.File(tmp, "w") as f:
            for name, value in arrays.as_dict().items():
                kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if value.ndim > 1 else {}
                f.create_dataset(name, data=value, **kwargs)
            f.attrs["format"] = FORMAT
            for key, value in header.items():
                f.attrs[key] = value
            f.attrs["beamsim_version"] = __version__
            f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["sha256"] = checksum
    return checksum


def _attr_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_attrs(path: str | Path) -> dict:
    """The file's attributes as plain Python values (no array data is read)."""
    with open_hdf5(path) as f:
        return {k: (_attr_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}


def read_dataset(path: str | Path, verify: bool = True) -> tuple[BeamArrays, dict]:
    """Read and validate a data-set file.

    Returns:
        (arrays, attrs).

    Raises:
        DataFileError: missing file, not HDF5, another format or version, missing or
            malformed arrays, values out of range, checksum mismatch (each message says which).
    """
    where = str(path)
    with open_hdf5(path) as f:
        fmt = _attr_text(f.attrs.get("format", ""))
        if fmt != FORMAT:
            found = f"format {fmt!r}" if fmt else "no 'format' attribute"
            raise DataFileError(f"{where}: not a beamsim data set ({found}; expected {FORMAT!r})")
        version = int(f.attrs.get("format_version", -1))
        if version == SEQUENCE_FORMAT_VERSION:
            raise DataFileError(f"{where}: a sequence file of moving UEs (format_version 3, BM-Case2): beamsim info, "
                                "evaluate and distill read it; this command reads static data sets only")
        if version not in READ_VERSIONS:
            raise DataFileError(f"{where}: format_version {version} is not supported (this beamsim reads "
                                f"{', '.join(map(str, READ_VERSIONS))})")
        entries = listed(f, where)
        if version == 1 and "rsrp_setb" in entries:
            raise DataFileError(f"{where}: /rsrp_setb is not part of format_version 1; {FIX}")
        check_declared(entries, _KINDS, where, "beamsim data set")  # foreign arrays and dtypes first
        missing = [name for name in _SPEC if name not in entries and name not in _OPTIONAL]
        if missing:
            raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
        rows = {name: entry.shape[0] if entry.shape else None for name, entry in entries.items()}
        if len(set(rows.values())) != 1 or None in rows.values():
            shapes = ", ".join(f"/{name} {list(entry.shape)}" for name, entry in entries.items())
            raise DataFileError(f"{where}: the arrays do not declare one sample count ({shapes}); "
                                "the file is corrupt or edited, write it again")
        rsrp = entries["rsrp"].shape
        schema = _schema(rsrp[0], rsrp[1:] if len(rsrp) == 3 else None)
        check_declared(entries, schema, where, "beamsim data set")
        arrays = BeamArrays(**read_checked(f, entries, where, schema, fix=FIX))
        attrs = {k: (_attr_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
    _validate(arrays, where, values=False)  # the values were checked as they were read
    if verify:
        stored = attrs.get("sha256", "")
        if stored != arrays_checksum(arrays):
            raise DataFileError(f"{where}: checksum mismatch: the arrays do not match the stored sha256 (file corrupt or edited)")
    return arrays, attrs


class BeamDataset(torch.utils.data.Dataset):
    """A data-set file as a torch ``Dataset`` of (input [C, E, A] float32, label int64); with a
    wide Set B the input is [1, kr, kc] (the wide beams) and the label a Set A beam.

    Args:
        path: data-set file written by ``beamsim generate``.
        split: ``"train"``, ``"test"`` or ``"all"``.
        encoding: input direction, see :func:`encode_inputs` (default :data:`DEFAULT_ENCODING`).
        mask_channel: add the mask as a second channel; default on for random masks.
        redraw_mask: draw a new random mask each time a sample is read; default on for the
            training split of a random-mask file (one stored mask per training sample lets a
            model memorise masks). Test masks stay as stored.
        generator: source of the redrawn masks (a fresh one seeded from the file's seed if None).

    Attributes:
        inputs: [N, C, E, A] float32, inputs under the stored masks.
        labels: [N] int64.
        rsrp: [N, E, A] float32 [dBm], the full unmasked true RSRP (for KPIs).
        observed: [N, E, A] float32 [dBm], the reported RSRP the inputs are made from.
        mask: [N, E, A] bool (all False with wide Set B).
        setb: [N, kr, kc] float32 [dBm], the reported wide-beam RSRP the inputs are made from
            (wide Set B, format version 2), else None.
        num_classes: E * A (the size of Set A).
        checksum: the source file's sha256.
    """

    def __init__(self, path: str | Path, split: Split = "train", encoding: Encoding = DEFAULT_ENCODING,
                 mask_channel: bool | None = None, redraw_mask: bool | None = None,
                 generator: torch.Generator | None = None) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
        arrays, attrs = read_dataset(path)
        if split != "all":
            arrays = arrays.subset(arrays.split == (0 if split == "train" else 1))
            if len(arrays) == 0:
                raise DataFileError(f"{path}: the {split} split is empty")
        self.path = Path(path)
        self.split = split
        self.attrs = attrs
        self.checksum = attrs["sha256"]
        self.mask_kind = attrs.get("mask_kind", "fixed")
        random_mask = self.mask_kind == "random"
        self.encoding: Encoding = encoding
        self.mask_channel = random_mask if mask_channel is None else bool(mask_channel)
        self.redraw_mask = (random_mask and split == "train") if redraw_mask is None else bool(redraw_mask)
        self.rsrp = torch.from_numpy(arrays.rsrp)
        self.observed = torch.from_numpy(arrays.observed)
        self.mask = torch.from_numpy(arrays.mask)
        self.labels = torch.from_numpy(arrays.label.astype(np.int64))
        self.ue_pos = torch.from_numpy(arrays.ue_pos)
        self.los = torch.from_numpy(arrays.los)
        self.grid = tuple(arrays.rsrp.shape[1:])
        self.num_classes = self.grid[0] * self.grid[1]
        self.measured = int(arrays.mask[0].sum())
        self.setb = None if arrays.rsrp_setb is None else torch.from_numpy(arrays.rsrp_setb)
        if self.setb is not None:  # wide Set B: the inputs are the wide beams, never masked or redrawn
            self.mask_channel = self.redraw_mask = False
            self.inputs = encode_inputs(self.setb, torch.ones(self.setb.shape, dtype=torch.bool), encoding)
        else:
            self.inputs = encode_inputs(self.observed, self.mask, encoding, self.mask_channel)
        if generator is None:
            generator = torch.Generator().manual_seed(int(attrs.get("seed", 0)) + 1)
        self.generator = generator

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.inputs.shape[1:])

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.redraw_mask:
            mask = random_masks(1, self.grid, self.measured, self.generator)
            x = encode_inputs(self.observed[index : index + 1], mask, self.encoding, self.mask_channel)[0]
            return x, self.labels[index]
        return self.inputs[index], self.labels[index]

    def redrawn_inputs(self, index: torch.Tensor | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Inputs of the rows ``index`` (all if None) under freshly drawn random masks.

        For batched training on a random-mask file; [n, C, E, A] float32.
        """
        rsrp = self.observed if index is None else self.observed[index]
        mask = random_masks(rsrp.shape[0], self.grid, self.measured, generator or self.generator)
        return encode_inputs(rsrp, mask, self.encoding, self.mask_channel)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs [N, C, E, A] float32 under the stored masks, labels [N] int64)."""
        return self.inputs, self.labels

"""TFRecord files of beamsim data: one ``tf.train.Example`` per sample, one fixed feature spec.

:func:`export_tfrecord` writes a data-set file (all samples, file order, the split as a
feature) or a distilled file (its decoded set, ``split`` 0) as one TFRecord file, uncompressed.
Every record of a file holds the same features; lists are flattened in C order (row-major)
and :func:`feature_spec` gives them back their shapes:

=============== ======= =========== ======================================================================
feature         type    length      meaning
=============== ======= =========== ======================================================================
``input``       float   C * H * W   model input [C, H, W] float32 in [0, 1], channels first, exactly as
                                    :func:`beamsim.tf.arrays` gives it (the PyTorch models' input)
``input_shape`` int64   3           (C, H, W)
``label``       int64   1           best beam ``el * A + az`` (distilled image sets: the class)
``split``       int64   1           0 = train, 1 = test (a distilled file: 0)
``encoding``    bytes   1           ``relative`` / ``attenuation`` (``""`` for image sets)
``rsrp``        float   E * A       data sets: true RSRP [dBm] of every beam, [E, A]
``mask``        int64   E * A       data sets: 1 = measured, [E, A]
``grid``        int64   2           data sets: (E, A)
``ue_pos``      float   3           data sets: UE position relative to the BS [m]
``los``         int64   1           data sets: 1 = line of sight
``rsrp_measured`` float E * A       data sets with measurement noise or a reporting grid: reported RSRP [dBm]
``rsrp_setb``   float   kr * kc     data sets with a wide Set B: reported wide-beam RSRP [dBm], [kr, kc]
``setb_shape``  int64   2           with ``rsrp_setb``: (kr, kc)
=============== ======= =========== ======================================================================

float is ``tf.train.FloatList`` (float32: the values are stored exactly), int64 is
``Int64List``, bytes is ``BytesList``. :func:`read_tfrecord` reads the shapes from the first
record and parses every record with :func:`feature_spec`; with TensorFlow alone::

    spec = beamsim.tf.feature_spec((1, 8, 8), grid=(8, 8))
    ds = tf.data.TFRecordDataset("umi.tfrecord").map(lambda r: tf.io.parse_single_example(r, spec))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from beamsim.errors import DataFileError

if TYPE_CHECKING:
    import tensorflow

    from beamsim.encoding import Encoding

__all__ = ["FEATURES", "feature_shapes", "feature_spec", "export_tfrecord", "read_tfrecord"]

#: feature -> (TFRecord list type, meaning), in record order.
FEATURES: dict[str, tuple[Literal["float", "int64", "bytes"], str]] = {
    "input": ("float", "model input [C, H, W] float32 in [0, 1], channels first"),
    "input_shape": ("int64", "(C, H, W)"),
    "label": ("int64", "best beam el * A + az (image sets: the class)"),
    "split": ("int64", "0 = train, 1 = test (distilled files: 0)"),
    "encoding": ("bytes", "input encoding: relative / attenuation ('' for image sets)"),
    "rsrp": ("float", "true RSRP per beam [dBm], [E, A]"),
    "mask": ("int64", "1 = measured, [E, A]"),
    "grid": ("int64", "(E, A)"),
    "ue_pos": ("float", "UE position relative to the BS [m]"),
    "los": ("int64", "1 = line of sight"),
    "rsrp_measured": ("float", "reported RSRP per beam [dBm], [E, A]"),
    "rsrp_setb": ("float", "reported RSRP of the wide Set B beams [dBm], [kr, kc]"),
    "setb_shape": ("int64", "(kr, kc)"),
}
#: The features every beamsim TFRecord file holds (the others depend on the source).
REQUIRED = ("input", "input_shape", "label", "split", "encoding")
#: The dtypes :func:`read_tfrecord` gives back where they are not the list type's.
_DTYPES = {"mask": "bool", "los": "bool", "split": "uint8"}
_DTYPE_OF_TYPE = {"float": "float32", "int64": "int64", "bytes": "string"}


def feature_shapes(input_shape: tuple[int, ...], grid: tuple[int, int] | None = None, *, measured: bool = False,
                   setb_shape: tuple[int, int] | None = None) -> dict[str, tuple[int, ...]]:
    """The features of a file and the shape each parses to (``()``: a scalar).

    Args:
        input_shape: (C, H, W) of one model input.
        grid: (E, A) of a data-set file's beam grid; None for a distilled file.
        measured: the data set has ``rsrp_measured``.
        setb_shape: (kr, kc) of a wide Set B; None without.

    >>> feature_shapes((1, 8, 8))
    {'input': (1, 8, 8), 'input_shape': (3,), 'label': (), 'split': (), 'encoding': ()}
    """
    shapes = {"input": tuple(int(s) for s in input_shape), "input_shape": (len(input_shape),), "label": (),
              "split": (), "encoding": ()}
    if grid is not None:
        grid = (int(grid[0]), int(grid[1]))
        shapes.update(rsrp=grid, mask=grid, grid=(2,), ue_pos=(3,), los=())
        if measured:
            shapes["rsrp_measured"] = grid
        if setb_shape is not None:
            shapes.update(rsrp_setb=(int(setb_shape[0]), int(setb_shape[1])), setb_shape=(2,))
    return shapes


def feature_spec(input_shape: tuple[int, ...], grid: tuple[int, int] | None = None, *, measured: bool = False,
                 setb_shape: tuple[int, int] | None = None) -> dict[str, "tensorflow.io.FixedLenFeature"]:
    """The ``tf.io.parse_single_example`` spec of a beamsim TFRecord file.

    Args:
        input_shape: (C, H, W) of one model input (the ``input_shape`` feature).
        grid: (E, A) of a data-set file's beam grid (the ``grid`` feature); None for a distilled file.
        measured: the file has ``rsrp_measured``.
        setb_shape: (kr, kc) of a wide Set B (the ``setb_shape`` feature); None without.

    Returns:
        feature -> ``tf.io.FixedLenFeature`` in the shape :func:`feature_shapes` gives:
        ``input`` [C, H, W] float32, ``rsrp`` [E, A] float32, ``mask`` [E, A] int64,
        ``label`` [] int64, ``encoding`` [] string, ...

    Raises:
        BackendUnavailableError: TensorFlow is not installed (``pip install beamsim[tf]``).
    """
    from beamsim.tf import import_tensorflow

    tf = import_tensorflow()
    types = {"float": tf.float32, "int64": tf.int64, "bytes": tf.string}
    return {name: tf.io.FixedLenFeature(shape, types[FEATURES[name][0]])
            for name, shape in feature_shapes(input_shape, grid, measured=measured, setb_shape=setb_shape).items()}


def _spec_summary(shapes: dict[str, tuple[int, ...]]) -> dict[str, dict]:
    """JSON-ready spec: feature -> type, list length, shape, dtype after :func:`read_tfrecord`, meaning."""
    return {name: {"type": FEATURES[name][0], "length": int(np.prod(shape, dtype=np.int64)), "shape": list(shape),
                   "dtype": _DTYPES.get(name, _DTYPE_OF_TYPE[FEATURES[name][0]]), "meaning": FEATURES[name][1]}
            for name, shape in shapes.items()}


def export_tfrecord(source: Path, out: Path, *, encoding: Encoding | None = None,
                    mask_channel: bool | None = None) -> dict:
    """Write a data-set or distilled file as TFRecords (one record per sample), atomically.

    Args:
        source: a data-set file (every sample, in file order, ``split`` recorded per sample)
            or a distilled file (its decoded set, as :func:`beamsim.distill.load` gives it).
        out: the TFRecord file; written to a temporary file beside it, then renamed.
        encoding: the encoding of ``input``, as :func:`beamsim.tf.arrays` (None: the default
            of every other entry point; a distilled file's own).
        mask_channel: data sets only: the mask as a second input channel (None: as the
            file's mask kind).

    Returns:
        a JSON-ready summary: ``path``, ``format`` (``"tfrecord"``), ``source``, ``kind``
        (``dataset`` / ``distilled``), ``samples``, ``bytes``, ``splits`` (samples per split),
        ``encoding``, ``input_shape`` ([C, H, W]) and ``spec`` (feature -> type, length,
        shape, dtype, meaning).

    Raises:
        BackendUnavailableError: TensorFlow is not installed (``pip install beamsim[tf]``).
        DataFileError: missing, foreign or invalid source.
        ValueError: ``out`` is ``source``; what :func:`beamsim.tf.arrays` raises.
        OSError: the output folder cannot be written.
    """
    from beamsim.fileio import atomic_path
    from beamsim.tf import arrays, import_tensorflow

    tf = import_tensorflow()
    source, out = Path(source), Path(out)
    if out.exists() and out.resolve() == source.resolve():
        raise ValueError(f"{out} is the source file; give another output path")
    data = arrays(source, "all", encoding, mask_channel=mask_channel)
    n = len(data)
    columns: dict[str, np.ndarray] = {"input": data.x, "label": data.y, "split": np.zeros(n, np.int64)}
    grid = setb_shape = None
    measured = False
    if data.kind == "dataset":
        from beamsim.dataset import read_dataset

        raw, _ = read_dataset(source)
        grid, measured = raw.rsrp.shape[1:], raw.rsrp_measured is not None
        setb_shape = None if raw.rsrp_setb is None else raw.rsrp_setb.shape[1:]
        columns.update(split=raw.split, rsrp=raw.rsrp, mask=raw.mask, ue_pos=raw.ue_pos, los=raw.los)
        if measured:
            columns["rsrp_measured"] = raw.rsrp_measured
        if setb_shape is not None:
            columns["rsrp_setb"] = raw.rsrp_setb
    shapes = feature_shapes(data.input_shape, grid, measured=measured, setb_shape=setb_shape)
    constant = {"input_shape": data.input_shape, "encoding": data.encoding.encode(), "grid": grid,
                "setb_shape": setb_shape}
    fixed = {name: _feature(tf, FEATURES[name][0], constant[name]) for name in shapes if name in constant}
    with atomic_path(out, suffix=".tfrecord.tmp") as tmp:
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for i in range(n):
                features = {name: fixed[name] if name in fixed else _feature(tf, FEATURES[name][0], columns[name][i])
                            for name in shapes}
                writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    splits = {"train": int((columns["split"] == 0).sum()), "test": int((columns["split"] == 1).sum())}
    return {"path": str(out), "format": "tfrecord", "source": str(source), "kind": data.kind, "samples": n,
            "bytes": out.stat().st_size, "splits": splits, "encoding": data.encoding,
            "input_shape": list(data.input_shape), "spec": _spec_summary(shapes)}


def _feature(tf, kind: str, value) -> "tensorflow.train.Feature":
    """One feature: ``value`` (a scalar, a tuple or an array) flattened into its list type."""
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    flat = np.asarray(value).reshape(-1)
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=flat.astype(np.float32).tolist()))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=flat.astype(np.int64).tolist()))


def read_tfrecord(path: str | Path, split: Literal["train", "test", "all"] = "all") -> "tensorflow.data.Dataset":
    """Parse a TFRecord file written by :func:`export_tfrecord`.

    Args:
        path: the file.
        split: keep the records of this split (``"all"``: every record).

    Returns:
        ``tf.data.Dataset`` of dicts, one per sample, feature -> tensor in the shape
        :func:`feature_spec` gives: ``input`` [C, H, W] float32, ``label`` [] int64, ``split``
        [] uint8, ``encoding`` [] string, ``input_shape`` [3] int64; from data sets also
        ``rsrp`` [E, A] float32 [dBm], ``mask`` [E, A] bool, ``grid`` [2] int64, ``ue_pos``
        [3] float32 [m], ``los`` [] bool (and ``rsrp_measured``, ``rsrp_setb``, ``setb_shape``
        when written). For Keras: ``.map(lambda e: (tf.transpose(e["input"], [1, 2, 0]), e["label"]))``.

    Raises:
        BackendUnavailableError: TensorFlow is not installed (``pip install beamsim[tf]``).
        DataFileError: missing file, not a TFRecord file, no records, a first record that is not
            a beamsim sample. A record damaged further on raises TensorFlow's ``DataLossError``
            (or ``InvalidArgumentError``) while the data set is iterated.
        ValueError: an unknown split.
    """
    from beamsim.tf import check_split, import_tensorflow

    tf = import_tensorflow()
    check_split(split)
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: {'is a folder, not a TFRecord file' if path.is_dir() else 'no such file'}")
    first = _first_example(tf, path)
    lengths = {name: _length(feature) for name, feature in first.items()}
    missing = [name for name in REQUIRED if name not in lengths]
    if missing:
        raise DataFileError(f"{path}: not a beamsim TFRecord file (its records lack {', '.join(missing)}); "
                            "write it with beamsim export --format tfrecord")
    shape = tuple(first["input_shape"].int64_list.value)
    grid = tuple(first["grid"].int64_list.value) if "grid" in first else None
    setb = tuple(first["setb_shape"].int64_list.value) if "setb_shape" in first else None
    shapes = feature_shapes(shape, grid, measured="rsrp_measured" in first, setb_shape=setb)
    wrong = [name for name, dims in shapes.items() if lengths.get(name) != int(np.prod(dims, dtype=np.int64))]
    wrong = wrong or sorted(set(shapes) ^ set(lengths))
    if wrong:
        raise DataFileError(f"{path}: the first record's features do not fit their shapes ({', '.join(wrong)}); "
                            "the file is corrupt or foreign")
    spec = feature_spec(shape, grid, measured="rsrp_measured" in first, setb_shape=setb)
    casts = {name: getattr(tf, dtype) for name, dtype in _DTYPES.items() if name in spec}

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        return {name: tf.cast(value, casts[name]) if name in casts else value for name, value in example.items()}

    out = tf.data.TFRecordDataset(str(path)).map(parse)
    if split != "all":
        wanted = 0 if split == "train" else 1
        out = out.filter(lambda example: tf.equal(example["split"], wanted))
    return out


def _first_example(tf, path: Path):
    """The features of the file's first record, as ``{name: tf.train.Feature}``."""
    try:
        record = next(iter(tf.data.TFRecordDataset(str(path)).take(1)), None)
    except tf.errors.OpError:
        raise DataFileError(f"{path}: not a TFRecord file (corrupt, truncated or of another format)") from None
    if record is None:
        raise DataFileError(f"{path}: the TFRecord file holds no records")
    from google.protobuf.message import DecodeError

    try:
        example = tf.train.Example.FromString(record.numpy())
    except DecodeError:
        raise DataFileError(f"{path}: not a beamsim TFRecord file (its records are not tf.train.Example)") from None
    return dict(example.features.feature)


def _length(feature) -> int:
    """How many values a ``tf.train.Feature`` holds (0 when no list is set)."""
    kind = feature.WhichOneof("kind")
    return 0 if kind is None else len(getattr(feature, kind).value)

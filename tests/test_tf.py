"""beamsim.tf: tf.data pipelines that give the PyTorch inputs, the TFRecord round trip, Keras.

TensorFlow is imported once, here at the top (skipped without it: ``pip install beamsim[tf]``).
"""

from __future__ import annotations

import random
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import beamsim.tf as btf  # noqa: E402
from beamsim.dataset import BeamArrays, BeamDataset, read_dataset, write_dataset  # noqa: E402
from beamsim.distill import build_quantizer, load, save  # noqa: E402
from beamsim.distill.provenance import Provenance  # noqa: E402
from beamsim.errors import BackendUnavailableError, DataFileError  # noqa: E402
from beamsim.experiments.loaders import load_test_set, load_training_set  # noqa: E402
from beamsim.tf_records import FEATURES  # noqa: E402


def _collect(ds) -> tuple[np.ndarray, np.ndarray]:
    """Every (input, label) of a tf.data pipeline, batched or not, as two numpy arrays."""
    xs, ys = zip(*ds.as_numpy_iterator())
    join = np.concatenate if np.ndim(ys[0]) else np.stack
    return join(xs), join(ys)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def distilled(tiny_dataset, tmp_path_factory):
    """A distilled file: 144 samples of the tiny training split (whole batches of 16 or 48),
    grouped by class, stored as 4-bit APoT codes."""
    train = BeamDataset(tiny_dataset, "train")
    keep = torch.arange(144)
    order = keep[torch.argsort(train.labels[keep], stable=True)]
    path = tmp_path_factory.mktemp("distilled") / "d.h5"
    save(path, train.inputs[order], train.labels[order], build_quantizer("apot", bits=4), num_classes=64,
         provenance=Provenance(source_sha256=train.checksum, source_path=str(tiny_dataset), encoding=train.encoding,
                               source_samples=len(train)))
    return path


@pytest.fixture(scope="module")
def measured_random(tmp_path_factory):
    """A small random-mask data set with reported RSRP (/rsrp_measured): 2 input channels."""
    rng = np.random.default_rng(0)
    n = 40
    rsrp = rng.uniform(-120, -60, (n, 4, 4)).astype(np.float32)
    mask = np.zeros((n, 16), bool)
    for row in mask:
        row[rng.permutation(16)[:8]] = True
    arrays = BeamArrays(rsrp=rsrp, mask=mask.reshape(n, 4, 4), label=rsrp.reshape(n, -1).argmax(1).astype(np.int16),
                        ue_pos=rng.normal(size=(n, 3)).astype(np.float32), los=rng.random(n) < 0.5,
                        split=(np.arange(n) % 4 == 0).astype(np.uint8),
                        rsrp_measured=(rsrp + rng.normal(size=rsrp.shape)).astype(np.float32))
    path = tmp_path_factory.mktemp("synthetic") / "random.h5"
    write_dataset(path, arrays, {"scenario": "", "seed": 3, "mask_kind": "random"})
    return path


def test_import_beamsim_never_imports_tensorflow():
    code = ("import sys, beamsim, beamsim.tf, beamsim.tf_records\n"
            "beamsim.BeamDataset, beamsim.tf.arrays\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_tensorflow_a_call_says_how_to_install_it(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now raises ImportError
    calls = [lambda: btf.dataset(tiny_dataset), lambda: btf.export_tfrecord(tiny_dataset, tmp_path / "x.tfrecord"),
             lambda: btf.read_tfrecord(tmp_path / "x.tfrecord"), lambda: btf.feature_spec((1, 8, 8))]
    for call in calls:
        with pytest.raises(BackendUnavailableError, match=r"pip install 'beamsim\[tf\]'") as info:
            call()
        assert "\n" not in str(info.value)
    assert len(btf.arrays(tiny_dataset)) > 0, "the numpy arrays need no TensorFlow"


@pytest.mark.parametrize("encoding", ["attenuation", "relative"])
def test_a_data_set_gives_exactly_what_the_pytorch_loaders_give(tiny_dataset, encoding):
    train, test = load_training_set(tiny_dataset, encoding), load_test_set(tiny_dataset, encoding)
    for split, want in (("train", train), ("test", test)):
        x, y = _collect(btf.dataset(tiny_dataset, split, encoding, batch_size=32))
        assert _same(x, want.x.numpy()) and _same(y, want.y.numpy()), split
    x, y = _collect(btf.dataset(tiny_dataset, "all", encoding))
    everything = BeamDataset(tiny_dataset, "all", encoding=encoding)
    assert _same(x, everything.inputs.numpy()) and _same(y, everything.labels.numpy())
    nhwc, _ = _collect(btf.dataset(tiny_dataset, "train", encoding, channels_last=True))
    assert _same(nhwc, np.ascontiguousarray(train.x.numpy().transpose(0, 2, 3, 1)))


def test_the_default_encoding_and_a_random_mask_file_follow_beam_dataset(tiny_dataset, measured_random):
    assert btf.arrays(tiny_dataset).encoding == BeamDataset(tiny_dataset).encoding
    ds = btf.dataset(measured_random, "train")
    assert ds.element_spec[0].shape == (2, 4, 4) and ds.element_spec[0].dtype == tf.float32
    assert ds.element_spec[1].shape == () and ds.element_spec[1].dtype == tf.int64
    x, _ = _collect(ds)  # the stored masks (PyTorch training redraws them; see the module docstring)
    assert _same(x, BeamDataset(measured_random, "train").tensors()[0].numpy())


def test_shuffle_is_seeded_and_leaves_global_random_state_alone(tiny_dataset):
    states = (np.random.get_state()[1].copy(), torch.get_rng_state(), random.getstate())
    first = _collect(btf.dataset(tiny_dataset, shuffle=True, seed=5, batch_size=16))
    again = _collect(btf.dataset(tiny_dataset, shuffle=True, seed=5, batch_size=16))
    other = _collect(btf.dataset(tiny_dataset, shuffle=True, seed=6, batch_size=16))
    plain = _collect(btf.dataset(tiny_dataset))
    assert _same(first[0], again[0]) and _same(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert sorted(map(bytes, first[0])) == sorted(map(bytes, plain[0])), "a permutation of the rows"
    assert np.array_equal(states[0], np.random.get_state()[1]) and torch.equal(states[1], torch.get_rng_state())
    assert states[2] == random.getstate()


def test_a_distilled_file_is_decoded_by_beamsim_distill_load(distilled):
    x, y = load(distilled)
    for split in ("train", "all"):
        got = btf.arrays(distilled, split)
        assert _same(got.x, x.numpy()) and _same(got.y, y.numpy())
        assert got.kind == "distilled" and got.num_classes == 64 and got.encoding == "attenuation"
    nhwc, labels = _collect(btf.dataset(distilled, channels_last=True, batch_size=10))
    assert _same(nhwc, np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))) and _same(labels, y.numpy())


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda d: btf.dataset(d, "test"), DataFileError, "has no test split"),
    (lambda d: btf.dataset(d, encoding="relative"), ValueError, "distilled with the 'attenuation' encoding"),
    (lambda d: btf.dataset(d, mask_channel=True), ValueError, "leave mask_channel out"),
])
def test_a_distilled_file_refuses_what_it_cannot_give(distilled, call, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        call(distilled)
    assert "\n" not in str(info.value)


def _text_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not a data file\n")
    return path


def _foreign_hdf5(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    return path


@pytest.mark.parametrize(("make", "kwargs", "error", "fragment"), [
    (lambda tmp, data: tmp / "missing.h5", {}, DataFileError, "no such file"),
    (lambda tmp, data: data, {"split": "val"}, ValueError, "split must be 'train', 'test' or 'all'"),
    (lambda tmp, data: data, {"encoding": "db"}, ValueError, "unknown encoding"),
    (lambda tmp, data: data, {"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    (lambda tmp, data: _text_file(tmp), {}, DataFileError, "not an HDF5 file"),
    (lambda tmp, data: _foreign_hdf5(tmp), {}, DataFileError, "not a beamsim data set or distilled file"),
])
def test_bad_input_to_dataset_is_one_clear_error(tmp_path, tiny_dataset, make, kwargs, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        btf.dataset(make(tmp_path, tiny_dataset), **kwargs)
    assert "\n" not in str(info.value)


def test_the_tfrecord_round_trip_of_a_data_set_is_exact(tiny_dataset, tmp_path):
    out = tmp_path / "tiny.tfrecord"
    summary = btf.export_tfrecord(tiny_dataset, out)
    raw, _ = read_dataset(tiny_dataset)
    inputs = btf.arrays(tiny_dataset, "all")
    assert summary["samples"] == len(raw) and summary["bytes"] == out.stat().st_size > 0
    assert summary["kind"] == "dataset" and summary["input_shape"] == [1, 8, 8] and summary["format"] == "tfrecord"
    assert summary["splits"] == {"train": int((raw.split == 0).sum()), "test": int((raw.split == 1).sum())}
    assert summary["spec"]["rsrp"] == {"type": "float", "length": 64, "shape": [8, 8], "dtype": "float32",
                                       "meaning": FEATURES["rsrp"][1]}
    records = list(btf.read_tfrecord(out).as_numpy_iterator())
    column = {name: np.stack([r[name] for r in records]) for name in records[0]}
    assert _same(column["input"], inputs.x) and _same(column["label"], inputs.y)
    for name in ("rsrp", "mask", "ue_pos", "los", "split"):
        assert _same(column[name], getattr(raw, name)), name
    assert set(column["encoding"].tolist()) == {inputs.encoding.encode()}
    assert list(column["input_shape"][0]) == [1, 8, 8] and list(column["grid"][0]) == [8, 8]
    assert not list(tmp_path.glob(".*tmp")), "no temporary file is left"

    test = list(btf.read_tfrecord(out, "test").as_numpy_iterator())
    assert _same(np.stack([r["input"] for r in test]), load_test_set(tiny_dataset).x.numpy())

    spec = btf.feature_spec((1, 8, 8), grid=(8, 8))  # with TensorFlow alone
    parsed = tf.data.TFRecordDataset(str(out)).map(lambda r: tf.io.parse_single_example(r, spec))
    assert _same(np.stack([p["rsrp"] for p in parsed.as_numpy_iterator()]), raw.rsrp)


def test_optional_features_and_a_distilled_file_round_trip(measured_random, distilled, tmp_path):
    summary = btf.export_tfrecord(measured_random, tmp_path / "random.tfrecord")
    assert summary["input_shape"] == [2, 4, 4] and "rsrp_measured" in summary["spec"]
    raw, _ = read_dataset(measured_random)
    records = list(btf.read_tfrecord(tmp_path / "random.tfrecord").as_numpy_iterator())
    assert _same(np.stack([r["rsrp_measured"] for r in records]), raw.rsrp_measured)
    assert _same(np.stack([r["input"] for r in records]), BeamDataset(measured_random, "all").inputs.numpy())

    summary = btf.export_tfrecord(distilled, tmp_path / "d.tfrecord")
    x, y = load(distilled)
    assert summary["kind"] == "distilled" and set(summary["spec"]) == {"input", "input_shape", "label", "split",
                                                                       "encoding"}
    records = list(btf.read_tfrecord(tmp_path / "d.tfrecord", "train").as_numpy_iterator())
    assert _same(np.stack([r["input"] for r in records]), x.numpy())
    assert _same(np.stack([r["label"] for r in records]), y.numpy())


def test_an_interrupted_export_leaves_nothing(tiny_dataset, tmp_path, monkeypatch):
    import beamsim.tf_records as records

    out = tmp_path / "x.tfrecord"
    out.write_bytes(b"old")
    real, calls = records._feature, []

    def failing(*args):
        calls.append(1)
        if len(calls) > 100:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(records, "_feature", failing)
    with pytest.raises(KeyboardInterrupt):
        btf.export_tfrecord(tiny_dataset, out)
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.tfrecord"]


def _foreign_tfrecord(tmp_path):
    path = tmp_path / "foreign.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        feature = {"image": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))}
        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda tmp: tmp / "missing.tfrecord", "no such file"),
    (lambda tmp: tmp, "is a folder"),
    (_text_file, "not a TFRecord file"),
    (_empty, "holds no records"),
    (_foreign_tfrecord, "not a beamsim TFRecord file"),
])
def test_a_bad_tfrecord_file_is_one_clear_error(tmp_path, make, fragment):
    with pytest.raises(DataFileError, match=fragment) as info:
        btf.read_tfrecord(make(tmp_path))
    assert "\n" not in str(info.value)


def test_export_refuses_a_bad_source_or_its_own_source_as_output(tmp_path, tiny_dataset):
    with pytest.raises(DataFileError, match="not a beamsim data set or distilled file"):
        btf.export_tfrecord(_foreign_hdf5(tmp_path), tmp_path / "x.tfrecord")
    with pytest.raises(ValueError, match="is the source file"):
        btf.export_tfrecord(tiny_dataset, tiny_dataset)


#: Keras training of the accuracy test: Adam at 1e-2, 30 epochs of 3 batches of 48 (90 steps).
EPOCHS, BATCH, LR = 30, 48, 1e-2


def _keras_model(seed: int, input_shape: tuple[int, ...], classes: int):
    """A small Conv2D + Dense network, its weights drawn from ``seed`` (no global seeding)."""
    init = keras.initializers.GlorotUniform
    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init(seed)),
        keras.layers.Flatten(),
        keras.layers.Dense(classes, kernel_initializer=init(seed + 1000)),
    ])
    model.compile(optimizer=keras.optimizers.Adam(LR),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_keras_trained_through_the_pipeline_matches_keras_trained_on_the_arrays(distilled, tiny_dataset):
    """Same network, same initial weights; trained on the distilled file through
    ``beamsim.tf.dataset`` or on the arrays of ``beamsim.distill.load``; tested on the source's
    test split (38 samples: one sample is 2.6 points).

    Unshuffled, the two routes see the same batches in the same order, so they must agree to
    the last logit. Shuffled (the way one trains: the file's rows are grouped by class), each
    route in its own order (``shuffle=True, seed=s`` against numpy permutations, one per epoch),
    they differ by SGD noise only. Measured over seeds 0-4 (TensorFlow 2.20, 2-core CPU):
    top-1 24.2 +- 2.2 % through the pipeline, 22.1 +- 3.0 % on the arrays (mean +- SD over
    seeds; chance is 1.6 %). The means of two seeds thus differ with an SD of about 2.6
    points; 10 points (4 test samples, ~4 SD) is the tolerance. ``pytest -s`` prints the run.
    """
    x, y = (t.numpy() for t in load(distilled))
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    test = load_test_set(tiny_dataset)
    x_test, y_test = np.ascontiguousarray(test.x.numpy().transpose(0, 2, 3, 1)), test.y.numpy()
    assert len(y) % BATCH == 0

    def scored(model):
        logits = model(x_test, training=False).numpy()
        return logits, float((logits.argmax(1) == y_test).mean())

    def through_tf(seed: int, shuffle: bool):
        model = _keras_model(seed, x.shape[1:], 64)
        data = btf.dataset(distilled, channels_last=True, batch_size=BATCH, shuffle=shuffle, seed=seed)
        model.fit(data, epochs=EPOCHS, shuffle=False, verbose=0)  # shuffle=: the pipeline's own, not Keras'
        return scored(model)

    def on_arrays(seed: int, shuffle: bool):
        """EPOCHS epochs as one pass over EPOCHS orders of the rows (a Keras epoch over numpy
        arrays costs a tenth of a second; the set is whole batches, so the batches are the same)."""
        model, rng = _keras_model(seed, x.shape[1:], 64), np.random.default_rng(seed)
        order = np.concatenate([rng.permutation(len(y)) if shuffle else np.arange(len(y)) for _ in range(EPOCHS)])
        model.fit(x[order], y[order], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        return scored(model)

    plain_tf, plain_arrays = through_tf(0, shuffle=False), on_arrays(0, shuffle=False)
    np.testing.assert_allclose(plain_tf[0], plain_arrays[0], rtol=1e-5, atol=1e-5)
    assert plain_tf[1] == plain_arrays[1]
    tf_top1 = [through_tf(seed, shuffle=True)[1] for seed in (0, 1)]
    arrays_top1 = [on_arrays(seed, shuffle=True)[1] for seed in (0, 1)]
    print(f"\ntop-1 unshuffled {plain_tf[1]:.3f} (both routes); shuffled through beamsim.tf {tf_top1}, "
          f"on the arrays {arrays_top1}")
    assert np.mean(arrays_top1) > 2 / 64, "the network learns (chance is 1/64)"
    assert abs(np.mean(tf_top1) - np.mean(arrays_top1)) <= 0.10, (tf_top1, arrays_top1)

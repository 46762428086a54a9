"""beamsim.h5safe: large arrays are read in slices, each checked as it arrives, into one array."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from beamsim import h5safe
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, check_values, declared, read_checked

CHUNK = 2**16  # 64 KiB slices in these tests


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(h5safe, "READ_CHUNK_BYTES", CHUNK)


def _write(path: Path, **arrays) -> Path:
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            chunks = (min(64, len(value)), *value.shape[1:]) if value.ndim else None
            f.create_dataset(name, data=value, chunks=chunks, compression="gzip" if chunks else None)
    return path


def _read(path: Path, schema) -> dict[str, np.ndarray]:
    with h5py.File(path) as f:
        return read_checked(f, declared(f, schema, str(path), "test file"), str(path), schema)


def test_sliced_reads_give_the_same_arrays(tmp_path, small_chunks):
    rng = np.random.default_rng(0)
    arrays = {"rsrp": rng.normal(-90, 20, (1000, 8, 8)).astype(np.float32),  # 250 KiB: 4 slices of 256 rows
              "mask": rng.random((1000, 8, 8)) < 0.5, "label": rng.integers(0, 64, 1000).astype(np.int16),
              "pos": rng.normal(size=(3,)).astype(np.float64)}
    schema = {"rsrp": Array("f", finite=True, low=-300, high=60), "mask": "b", "label": Array("i", low=0, high=63),
              "pos": "f"}
    got = _read(_write(tmp_path / "a.h5", **arrays), schema)
    assert list(got) == sorted(arrays)  # file order
    for name, value in arrays.items():
        assert got[name].dtype == value.dtype and np.array_equal(got[name], value), name


def _corrupt_last_chunk(path: Path, name: str) -> None:
    with h5py.File(path) as f:
        dataset = f[name]
        info = dataset.id.get_chunk_info(dataset.id.get_num_chunks() - 1)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset)
        raw.write(b"\xff" * info.size)


def test_a_bad_value_is_refused_before_the_rest_is_read(tmp_path, small_chunks):
    values = np.zeros((4096, 16), dtype=np.float32)  # 256 KiB, 4 slices; the last chunk unreadable
    values[3, 5] = np.nan
    path = _write(tmp_path / "a.h5", x=values)
    _corrupt_last_chunk(path, "x")
    with pytest.raises(DataFileError, match=r"/x holds 1 NaN or infinite value\(s\) in rows 0-1023 of 4096 "
                                            r"\(reading stopped there\), the first at index \[3, 5\]"):
        _read(path, {"x": Array("f", finite=True)})
    values[3, 5] = 0.0  # without the NaN the reading gets to the corrupt chunk
    path = _write(tmp_path / "b.h5", x=values)
    _corrupt_last_chunk(path, "x")
    with pytest.raises(DataFileError, match="unreadable array data, the file is truncated or corrupt"):
        _read(path, {"x": Array("f", finite=True)})


def test_a_bad_value_in_a_later_slice_names_its_rows(tmp_path, small_chunks):
    values = np.zeros((4096, 16), dtype=np.float32)
    values[2500, 1] = 1e9
    path = _write(tmp_path / "a.h5", x=values)
    with pytest.raises(DataFileError, match=r"/x values must lie in \[-1, 1\]; 1 do not in rows 2048-3071 of 4096 "
                                            r"\(reading stopped there\), the first 1000000000.0 at index \[2500, 1\]"):
        _read(path, {"x": Array("f", low=-1, high=1)})


def test_reading_makes_no_second_full_size_array(tmp_path, monkeypatch):
    monkeypatch.setattr(h5safe, "READ_CHUNK_BYTES", 2**20)
    values = np.random.default_rng(1).random((4096, 1024), dtype=np.float32)  # 16 MiB
    path = _write(tmp_path / "a.h5", x=values)
    del values
    tracemalloc.start()
    try:
        got = _read(path, {"x": Array("f", finite=True, low=0.0, high=1.0)})["x"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.nbytes == 16 * 2**20
    assert peak < got.nbytes + 3 * 2**20, peak  # the array, one slice's checks; a full check alone is 4 MiB more


def test_integer_bounds_are_compared_in_the_arrays_dtype():
    codes = np.array([0, 3, 255], dtype=np.uint8)
    check_values("c", codes, Array("u", low=-5, high=300), "f.h5")  # bounds beyond uint8 cannot be crossed
    check_values("c", codes, Array("u", above=-1), "f.h5")
    with pytest.raises(DataFileError, match=r"/c values must lie in \[0, 3\]; 1 do not, the first 255 at index \[2\]"):
        check_values("c", codes, Array("u", low=0, high=3), "f.h5")
    with pytest.raises(DataFileError, match=r"/c values must lie in \(0, inf\); 1 do not, the first 0 at index \[0\]"):
        check_values("c", codes, Array("u", above=0), "f.h5")
    with pytest.raises(DataFileError, match="3 do not"):
        check_values("c", codes, Array("u", low=1000), "f.h5")


def test_a_shape_rule_and_a_kinds_string_in_one_schema(tmp_path):
    path = _write(tmp_path / "a.h5", a=np.zeros((4, 3), np.float32), b=np.zeros(5, np.int32))
    assert set(_read(path, {"a": Array("f", shape=(4, None)), "b": "i"})) == {"a", "b"}
    with pytest.raises(DataFileError, match=r"/a declares shape \[4, 3\], but the header \(n = 5\) calls for \[5, \*\]"):
        _read(path, {"a": Array("f", shape=(5, None), implied_by="n = 5"), "b": "i"})
    with pytest.raises(DataFileError, match=r"/b has 5 bytes, expected 6 for six codes \(truncated or corrupt\)"):
        _read(path, {"a": "f", "b": Array("i", shape=(6,), unit="bytes", implied_by="six codes")})

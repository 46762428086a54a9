"""beamsim.records: the one JSON conversion, and CSV/JSON records written atomically."""

from __future__ import annotations

import csv
import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import beamsim.records
from beamsim.records import to_jsonable, write_csv, write_json


def test_doctests():
    result = doctest.testmod(beamsim.records)
    assert result.attempted > 0 and result.failed == 0


def test_to_jsonable_gives_plain_types_for_numpy_torch_paths_and_non_finite_floats():
    doc = {"i": np.int16(3), "f": np.float32(0.5), "b": np.bool_(True), "nan": math.nan, "inf": np.float64("inf"),
           "a": np.arange(3).reshape(1, 3), "t": torch.tensor([1.5, 2.0]), "t0": torch.tensor(7), "p": Path("a/b.h5"),
           "nested": ({"x": (1, None)},), 2: "two"}
    out = to_jsonable(doc)
    assert out == {"i": 3, "f": 0.5, "b": True, "nan": None, "inf": None, "a": [[0, 1, 2]], "t": [1.5, 2.0], "t0": 7,
                   "p": "a/b.h5", "nested": [{"x": [1, None]}], "2": "two"}
    assert json.loads(json.dumps(out)) == out
    assert type(out["i"]) is int and type(out["b"]) is bool and type(out["t0"]) is int


def test_write_csv_orders_columns_by_first_sight_and_leaves_none_empty(tmp_path):
    path = write_csv(tmp_path / "sub" / "t.csv", [{"a": 1, "b": None}, {"c": "x", "a": 2}])
    with open(path, newline="") as fh:
        assert list(csv.reader(fh)) == [["a", "b", "c"], ["1", "", ""], ["2", "", "x"]]
    write_csv(path, [{"a": 1, "b": 2}], columns=["b"])
    assert path.read_text().splitlines() == ["b", "2"]


def test_write_json_is_one_indented_document(tmp_path):
    path = write_json(tmp_path / "d.json", {"n": np.int64(4), "x": float("nan")})
    assert path.read_text() == '{\n  "n": 4,\n  "x": null\n}\n'


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_json(tmp_path / "d.json", {"v": 1})

    class Boom:
        def __str__(self):
            raise RuntimeError("cannot convert")

    with pytest.raises(RuntimeError, match="cannot convert"):
        write_json(path, {"v": Boom()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]

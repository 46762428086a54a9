"""Generation: labels, masks, determinism, shards and merge, atomic output."""

import numpy as np
import pytest
import torch

from beamsim.dataset import read_dataset
from beamsim.errors import DataFileError
from beamsim.simulation.generate import generate, merge, parse_shard
from tests.conftest import tiny_scenario


def test_label_is_argmax_of_all_true_rsrp(tiny_dataset):
    arrays, _ = read_dataset(tiny_dataset)
    flat = arrays.rsrp.reshape(len(arrays), -1)
    assert np.array_equal(arrays.label, flat.argmax(axis=1))
    # the label is not the strongest *measured* beam in general (masked beams can win)
    observed_best = np.where(arrays.mask.reshape(len(arrays), -1), flat, -np.inf).argmax(axis=1)
    assert (observed_best != arrays.label).any()


def test_fixed_mask_is_a_checkerboard_of_half_the_beams(tiny_dataset):
    arrays, attrs = read_dataset(tiny_dataset)
    assert attrs["mask_kind"] == "fixed"
    e, a = np.indices((8, 8))
    assert np.all(arrays.mask == ((e + a) % 2 == 0))
    assert arrays.mask.reshape(len(arrays), -1).sum(axis=1).tolist() == [32] * len(arrays)


def test_random_mask_measures_half_with_different_beams(tmp_path):
    out = tmp_path / "r.h5"
    generate(tiny_scenario(samples=64, mask="random"), out, seed=3, device="cpu")
    arrays, attrs = read_dataset(out)
    assert attrs["mask_kind"] == "random"
    per_sample = arrays.mask.reshape(len(arrays), -1)
    assert per_sample.sum(axis=1).tolist() == [32] * len(arrays)
    assert len({row.tobytes() for row in per_sample}) > len(arrays) // 2
    assert 0.4 < per_sample.mean(axis=0).mean() < 0.6


def test_split_is_seeded_80_20(tiny_dataset):
    arrays, _ = read_dataset(tiny_dataset)
    assert (arrays.split == 1).sum() == round(0.2 * len(arrays))


def test_same_seed_same_arrays_other_seed_other_arrays(tmp_path):
    scn = tiny_scenario(samples=40)
    paths = [tmp_path / f"{i}.h5" for i in range(3)]
    state = torch.get_rng_state()
    generate(scn, paths[0], seed=1, device="cpu")
    generate(scn, paths[1], seed=1, device="cpu")
    generate(scn, paths[2], seed=2, device="cpu")
    assert torch.equal(state, torch.get_rng_state()), "generate must not touch the global RNG"
    (a, attrs_a), (b, attrs_b), (c, attrs_c) = (read_dataset(p) for p in paths)
    assert attrs_a["sha256"] == attrs_b["sha256"] != attrs_c["sha256"]
    for name, value in a.as_dict().items():
        assert np.array_equal(value, getattr(b, name))
    assert not np.array_equal(a.rsrp, c.rsrp)


def test_shards_merge_into_the_single_run(tmp_path):
    scn = tiny_scenario(samples=80)  # 3 batches of 32, the last one partial
    whole = tmp_path / "whole.h5"
    generate(scn, whole, seed=5, device="cpu")
    shards = [tmp_path / f"s{i}.h5" for i in range(3)]
    for i, path in enumerate(shards):
        generate(scn, path, seed=5, device="cpu", shard=f"{i}/3")
    merged = tmp_path / "merged.h5"
    merge([shards[2], shards[0], shards[1]], merged)
    a, attrs_a = read_dataset(whole)
    b, attrs_b = read_dataset(merged)
    assert attrs_a["sha256"] == attrs_b["sha256"]
    with pytest.raises(DataFileError, match="missing shard"):
        merge(shards[:2], tmp_path / "bad.h5")
    other = tmp_path / "other.h5"
    generate(scn, other, seed=6, device="cpu", shard="1/3")
    with pytest.raises(DataFileError, match="seed differs"):
        merge([shards[0], other, shards[2]], tmp_path / "bad.h5")
    with pytest.raises(DataFileError, match="not a shard"):
        merge([whole], tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


@pytest.mark.parametrize("spec", ["1", "2/2", "a/b", "-1/3", "0/0", "1/2/3"])
def test_malformed_shard_specs(spec):
    with pytest.raises(ValueError, match="malformed shard"):
        parse_shard(spec)


def test_interrupted_run_leaves_no_file(tmp_path):
    out = tmp_path / "x.h5"

    def interrupt(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tiny_scenario(samples=64), out, seed=1, device="cpu", progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_run(tmp_path):
    out = tmp_path / "keep.h5"
    out.write_bytes(b"old")

    def interrupt(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tiny_scenario(samples=64), out, seed=1, device="cpu", progress=interrupt)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.h5"]


def test_measurement_noise_and_grid_are_stored_beside_the_truth(tmp_path):
    import dataclasses

    scn = tiny_scenario(samples=32)
    scn = dataclasses.replace(scn, measurement=dataclasses.replace(scn.measurement, noise_std_db=1.0, report_step_db=1.0))
    generate(scn, tmp_path / "n.h5", seed=1, device="cpu")
    arrays, _ = read_dataset(tmp_path / "n.h5")
    assert arrays.rsrp_measured is not None
    assert np.allclose(arrays.rsrp_measured, np.round(arrays.rsrp_measured))
    diff = arrays.rsrp_measured - arrays.rsrp
    assert 0.5 < diff.std() < 1.6
    assert np.array_equal(arrays.label, arrays.rsrp.reshape(32, -1).argmax(1))

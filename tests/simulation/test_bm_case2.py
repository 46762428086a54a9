"""BM-Case2 (TR 38.843) data: tracks of moving UEs with spatially consistent TR 38.901 channels."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.scenarios import load_scenario, scenario_to_toml
from beamsim.sequences import beam_change_rate, read_sequences
from beamsim.simulation.generate import generate
from tests.refusal import edited_copy, refused
from tests.simulation.tracks_checks import assert_deterministic_and_shardable, instant_correlations


def small(samples: int = 64, speeds=(3.0, 30.0), **link):
    base = load_scenario("umi-case2")
    return dataclasses.replace(
        base, name="small-case2",
        link=dataclasses.replace(base.link, drops_per_batch=2, ues_per_drop=16, **link),
        trajectory=dataclasses.replace(base.trajectory, speeds_kmh=tuple(speeds)),
        dataset=dataclasses.replace(base.dataset, samples=samples))


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("case2") / "tracks.h5"
    generate(small(), path, seed=5, device="cpu")
    return path


def test_a_sequence_file_holds_tracks_labels_per_horizon_and_its_layout(tracks):
    arrays, attrs = read_sequences(tracks)
    n, t = arrays.rsrp.shape[:2]
    assert (n, t) == (64, 12) and arrays.rsrp.shape[2:] == (4, 8)
    assert int(attrs["format_version"]) == 3 and attrs["horizons"].tolist() == [1, 2, 4]
    best = arrays.rsrp.reshape(n, t, -1).argmax(axis=2)
    assert (arrays.label == best[:, [8, 9, 11]]).all()  # history 8: instants 7 + h
    steps = np.diff(arrays.ue_pos, axis=1)  # straight tracks at the drawn speed, 40 ms apart
    assert np.allclose(np.linalg.norm(steps, axis=2), arrays.speed[:, None] * 0.04, atol=1e-3)
    assert set(np.round(arrays.speed * 3.6, 3)) <= {3.0, 30.0}


def test_same_seed_same_tracks_and_shards_merge_into_the_whole_run(tracks, tmp_path):
    assert_deterministic_and_shardable(small(), tracks, 5, tmp_path)


def test_a_static_ue_sees_the_same_maps_at_every_instant(tmp_path):
    path = tmp_path / "static.h5"
    generate(small(samples=32, speeds=(0.0,)), path, seed=2, device="cpu")
    rsrp = read_sequences(path)[0].rsrp
    assert np.abs(rsrp - rsrp[:, :1]).max() < 1e-3  # [dB]


def test_consecutive_instants_are_far_more_correlated_than_random_pairs(tracks):
    rsrp = read_sequences(tracks)[0].rsrp
    consecutive, shuffled = instant_correlations(rsrp)
    assert consecutive > 0.9 and consecutive > shuffled + 0.2, (consecutive, shuffled)
    rate = beam_change_rate(rsrp)
    speed = read_sequences(tracks)[0].speed
    assert rate[speed > 5].mean() > rate[speed < 5].mean()  # faster UEs change beams more often


def test_a_ue_walking_past_the_bs_in_line_of_sight_sweeps_the_beams_in_order():
    """A track across the sector, 60 m from the BS in LoS: the best beam's azimuth column rises
    with the UE's azimuth in the BS frame; near a beam boundary the NLoS clusters may flip it
    back by one column for an instant (at most twice on the track), never more."""
    from beamsim.simulation.backends.tr38901 import TR38901Backend, sionna_seed
    from beamsim.simulation.codebook import bs_codebook
    from beamsim.simulation.measure import pair_rsrp

    backend = TR38901Backend(small(), torch.device("cpu"), force_los=True)
    with sionna_seed(1):
        _, bs_loc, _, bs_orient, _, in_state = backend._topology()
    yaw = float(bs_orient[0, 0, 0])
    t = 25
    along = torch.linspace(-50.0, 50.0, t, dtype=torch.float64)  # across the boresight, 60 m out
    x = 60.0 * math.cos(yaw) - along * math.sin(yaw)
    y = 60.0 * math.sin(yaw) + along * math.cos(yaw)
    loc = torch.stack([x, y, torch.full_like(x, 1.5)], dim=-1).float()[None]  # [1, t, 3]
    zeros = torch.zeros(1, t, 3)
    with sionna_seed(3):
        batch = backend._channels(loc, bs_loc[:1], zeros, bs_orient[:1], zeros, torch.zeros(1, t, dtype=torch.bool),
                                  torch.zeros(t, dtype=torch.long))
    assert bool(batch.los.all())
    rsrp = pair_rsrp(batch.a, bs_codebook(4, 8), torch.ones(1, 1, dtype=torch.complex64), 30.0).reshape(t, 4, 8)
    column = rsrp.amax(dim=1).argmax(dim=1)
    behind = column.cummax(dim=0).values - column
    assert behind.max() <= 1 and int((behind > 0).sum()) <= 2, column.tolist()
    assert column[-1] - column[0] >= 4, column.tolist()


@pytest.mark.parametrize("old,new,needle", [
    ("history = 8", "history = 0", "trajectory.history (K past instants) must be >= 1"),
    ("horizons = [1, 2, 4]", "horizons = [0, 2]", "trajectory.horizons must be"),
    ("period_ms = 40.0", "period_ms = 0.0", "trajectory.period_ms must be > 0"),
    ("period_ms = 40.0", "period_ms = -5.0", "trajectory.period_ms must be > 0"),
], ids=["history-0", "horizon-0", "period-0", "period-negative"])
def test_bad_trajectory_settings_are_one_line(tmp_path, old, new, needle):
    text = scenario_to_toml(load_scenario("umi-case2"))
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new))
    refused(["generate", "--scenario", path, "--samples", "16", "--out", tmp_path / "x.h5"], tmp_path, needle)


def test_info_describes_a_sequence_file_and_static_readers_refuse_it_in_one_line(tracks, tmp_path):
    result = CliRunner().invoke(app, ["info", str(tracks), "--json", "--plot", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["samples"], doc["instants"], doc["history"], doc["horizons"]) == (64, 12, 8, [1, 2, 4])
    assert set(doc["beam_change_rate_by_kmh"]) == {"3", "30"}
    assert all(Path(p).stat().st_size > 0 for p in doc["plots"]) and len(doc["plots"]) == 2
    refused(["study", "baselines", "--data", tracks, "--methods", "random", "--spc", "1", "--runs", "1",
             "--out", tmp_path / "study"], tmp_path, "sequence file", "reads static data sets only")


def test_distill_makes_a_set_of_tracks_labelled_at_the_first_horizon(tracks, tmp_path, tiny_config):
    out = tmp_path / "d.h5"
    result = CliRunner().invoke(app, ["distill", "--data", str(tracks), "--config", str(tiny_config), "--spc", "1",
                                      "--bits", "6", "--cache-dir", str(tmp_path / "experts"), "--out", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    evaluated = CliRunner().invoke(app, ["evaluate", "--train", str(out), "--runs", "1", "--epochs", "2", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    doc = json.loads(evaluated.stdout)
    assert doc["num_classes"] == 32 and doc["input_shape"] == [8, 4, 8] and doc["test"] == str(tracks)


def test_the_history_is_k_channels_encoded_against_its_strongest_measured_value():
    from beamsim.experiments.sequence_eval import encode_history

    observed = torch.tensor([[[[-70.0, -100.0]], [[-60.0, -75.0]]]])  # [N=1, K=2, 1, 2]
    mask = torch.tensor([[[[True, False]], [[True, True]]]])
    x = encode_history(observed, mask, "attenuation")
    assert x.shape == (1, 2, 1, 2)
    assert torch.allclose(x[0, :, 0], torch.tensor([[10 / 30, 1.0], [0.0, 15 / 30]]))


def test_a_horizon_is_tested_against_the_set_a_of_its_instant(tracks):
    from beamsim.experiments.sequence_eval import horizon_sets

    arrays = read_sequences(tracks)[0]
    test_rows = arrays.split == 1
    for column, h in enumerate((1, 2, 4)):
        train, test, held = horizon_sets(tracks, h)
        assert train.x.shape[1:] == (8, 4, 8) and len(train) + len(test) == 64
        assert np.array_equal(test.rsrp.numpy(), arrays.rsrp[test_rows, 7 + h])
        assert np.array_equal(test.y.numpy(), arrays.label[test_rows, column])
        assert np.array_equal(held.argmax(dim=1).numpy(), arrays.rsrp[test_rows, 7].reshape(test_rows.sum(), -1).argmax(1))
    with pytest.raises(ValueError, match="horizons"):
        horizon_sets(tracks, 3)


@pytest.mark.parametrize("model", ["beamcnn", "beamgru"])
def test_evaluate_reports_every_horizon_beside_both_references(tracks, model):
    result = CliRunner().invoke(app, ["evaluate", "--train", str(tracks), "--runs", "1", "--epochs", "2", "--model",
                                      model, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [h["horizon"] for h in doc["horizons"]] == [1, 2, 4]
    assert (doc["set_a_beams"], doc["set_b_beams"]) == (32, 8)
    for h in doc["horizons"]:
        assert h["model"] == model and h["num_classes"] == 32 and h["input_shape"] == [8, 4, 8]
        assert set(h["last_beam_held"]) >= {"top1", "rsrp_loss_db"} and "top1" in h["reference"]


def test_the_table_says_when_holding_is_a_genie(tracks):
    """With 8 of 32 beams measured, holding the last best Set A beam knows more than the model."""
    result = CliRunner().invoke(app, ["evaluate", "--train", str(tracks), "--runs", "1", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "knows all 32 Set A beams at the last instant and the model reads 8 (Set B): a genie bound" in " ".join(
        result.stdout.split())


def test_with_set_b_equal_to_set_a_holding_is_the_baseline_and_no_genie(tmp_path):
    base = small(samples=32)
    path = tmp_path / "sweep.h5"
    generate(dataclasses.replace(base, beams=dataclasses.replace(base.beams, set_b_size=32)), path, seed=5, device="cpu")
    result = CliRunner().invoke(app, ["evaluate", "--train", str(path), "--runs", "1", "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["set_a_beams"], doc["set_b_beams"]) == (32, 32)
    result = CliRunner().invoke(app, ["evaluate", "--train", str(path), "--runs", "1", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "genie" not in result.stdout


def _rehash_tracks(path: Path) -> Path:
    """Recompute a sequence file's ``sha256`` from its arrays, so it matches (what a forger does)."""
    import h5py

    from beamsim.dataset import arrays_checksum
    from beamsim.sequences import SequenceArrays

    with h5py.File(path, "a") as f:
        f.attrs["sha256"] = arrays_checksum(SequenceArrays(**{name: f[name][()] for name in f}))
    return path


def _replace(f, name: str, value) -> None:
    del f[name]
    f[name] = value


@pytest.mark.parametrize("edit,rehash,needle", [
    (lambda f: f.create_dataset("extra", data=np.zeros(3)), False, "extra"),
    (lambda f: _replace(f, "label", f["label"][()][:, :2]), True, "label"),
    (lambda f: _replace(f, "rsrp", np.where(np.arange(12)[None, :, None, None] == 3, np.nan, f["rsrp"][()])), True,
     "NaN"),
    (lambda f: _replace(f, "speed", f["speed"][()] + 1.0), False, "checksum"),
], ids=["foreign-dataset", "labels-of-other-horizons", "nan-behind-a-valid-checksum", "edited-without-checksum"])
def test_a_hostile_sequence_file_is_one_line(tracks, tmp_path, edit, rehash, needle):
    bad = edited_copy(tracks, tmp_path, edit)
    if rehash:
        _rehash_tracks(bad)
    refused(["info", bad], tmp_path, str(bad), needle)
    refused(["evaluate", "--train", bad, "--runs", "1"], tmp_path, str(bad))


def test_a_sequence_file_is_tested_on_its_own_split_only(tracks, tmp_path):
    refused(["evaluate", "--train", tracks, "--test", tracks, "--runs", "1"], tmp_path,
            "tested on its own test split, per horizon")


def test_read_sequences_refuses_a_static_data_set(tiny_dataset):
    from beamsim.errors import DataFileError

    with pytest.raises(DataFileError, match="not a beamsim sequence file"):
        read_sequences(tiny_dataset)


def test_one_network_with_a_head_per_horizon(tracks, tmp_path, tiny_dataset):
    """--joint: one training, one network with 3 heads, each scored at its horizon; with one
    horizon it is exactly the per-horizon evaluation (same network, same seeds)."""
    from beamsim.experiments.sequence_eval import evaluate_sequences

    kw = dict(runs=1, epochs=2, model="beamgru", device="cpu", seed=1)
    joint = evaluate_sequences(tracks, joint=True, **kw)
    assert [r.horizon for r in joint] == [1, 2, 4]
    assert len({tuple(r.result.seconds_per_run) for r in joint}) == 1  # one training for all heads
    labels = read_sequences(tracks)[0].label
    for i, r in enumerate(joint):
        assert torch.equal(r.result.labels, torch.from_numpy(labels[read_sequences(tracks)[0].split == 1, i].astype(np.int64)))
    one = evaluate_sequences(tracks, horizons=[2], joint=True, **kw)[0].result
    alone = evaluate_sequences(tracks, horizons=[2], **kw)[0].result
    assert torch.equal(one.predictions, alone.predictions) and one.per_run[0]["top1"] == alone.per_run[0]["top1"]
    result = CliRunner().invoke(app, ["evaluate", "--train", str(tracks), "--joint", "--runs", "1", "--epochs", "1",
                                      "--model", "beamgru", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["joint"] is True and [h["horizon"] for h in doc["horizons"]] == [1, 2, 4]
    refused(["evaluate", "--train", tiny_dataset, "--joint", "--runs", "1"], tmp_path, "--joint", "static data set")


def test_train_model_trains_a_head_per_label_column():
    from beamsim.models.training import train_model

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 2, 2, generator=g)
    y = torch.stack([(x.flatten(1)[:, 0] > 0).long(), (x.flatten(1)[:, 1] > 0).long()], dim=1)  # [64, 2] heads
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2 * 2))
    losses = train_model(net, x, y, epochs=40, batch_size=16, lr=0.05, label_smoothing=0.0, generator=g)
    assert losses[-1] < 0.5 * losses[0]
    logits = net(x).reshape(64, 2, 2)
    assert (logits.argmax(dim=2) == y).float().mean() > 0.9  # each head learned its own column
    with pytest.raises(ValueError, match=r"y \[N\] or \[N, heads\]"):
        train_model(net, x, y[:, None], epochs=1)

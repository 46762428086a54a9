"""BM-Case2 (TR 38.843) in Sionna RT: UE tracks in the street canyon, every instant traced where the UE is."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from beamsim.scenarios import load_scenario
from beamsim.sequences import read_sequences
from beamsim.simulation.generate import generate
from tests.simulation.tracks_checks import assert_deterministic_and_shardable, instant_correlations

pytestmark = pytest.mark.rt


@pytest.fixture(scope="module", autouse=True)
def _sionna_rt():
    from beamsim.errors import BackendUnavailableError
    from beamsim.simulation.llvm import import_sionna_rt

    try:
        import_sionna_rt()
    except BackendUnavailableError as exc:
        pytest.skip(f"Sionna RT unavailable: {exc}")


def small(samples: int = 12, speeds=(3.0, 30.0), batch: int = 6, **rt):
    base = load_scenario("street-canyon-case2")
    return dataclasses.replace(
        base, name="small-case2-rt",
        rt=dataclasses.replace(base.rt, batch_size=batch, samples_per_src=10_000, **rt),
        trajectory=dataclasses.replace(base.trajectory, speeds_kmh=tuple(speeds)),
        dataset=dataclasses.replace(base.dataset, samples=samples))


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    path = tmp_path_factory.mktemp("case2-rt") / "tracks.h5"
    generate(small(), path, seed=4, device="cpu")
    return path


def test_rt_tracks_are_straight_inside_the_area_and_labelled_per_horizon(tracks):
    arrays, attrs = read_sequences(tracks)
    n, t = arrays.rsrp.shape[:2]
    assert (n, t) == (12, 12) and arrays.rsrp.shape[2:] == (4, 8)
    assert np.isfinite(arrays.rsrp).all()
    steps = np.diff(arrays.ue_pos, axis=1)
    assert np.allclose(np.linalg.norm(steps, axis=2), arrays.speed[:, None] * 0.04, atol=1e-3)
    heading = np.arctan2(steps[..., 1], steps[..., 0])
    moving = arrays.speed > 0
    assert np.allclose(np.angle(np.exp(1j * (heading[moving] - arrays.heading[moving, None]))), 0, atol=1e-3)
    scenario = load_scenario("street-canyon-case2")
    world = arrays.ue_pos + np.asarray(scenario.rt.tx_position, dtype=np.float32)
    x0, x1, y0, y1 = scenario.rt.area
    assert (world[..., 0] >= x0).all() and (world[..., 0] <= x1).all()
    assert (world[..., 1] >= y0).all() and (world[..., 1] <= y1).all()
    assert (np.hypot(arrays.ue_pos[..., 0], arrays.ue_pos[..., 1]) >= scenario.rt.min_distance - 1e-3).all()
    best = arrays.rsrp.reshape(n, t, -1).argmax(axis=2)
    assert (arrays.label == best[:, [8, 9, 11]]).all()
    assert attrs["horizons"].tolist() == [1, 2, 4] and set(np.round(arrays.speed * 3.6, 3)) <= {3.0, 30.0}


def test_rt_tracks_are_deterministic_and_shards_merge_into_the_whole_run(tracks, tmp_path):
    assert_deterministic_and_shardable(small(), tracks, 4, tmp_path)


def test_a_static_ue_sees_identical_maps_at_every_instant_in_rt(tmp_path):
    path = tmp_path / "static.h5"
    generate(small(samples=4, speeds=(0.0,), batch=4), path, seed=2, device="cpu")
    rsrp = read_sequences(path)[0].rsrp
    assert np.array_equal(rsrp, np.broadcast_to(rsrp[:, :1], rsrp.shape))


def test_consecutive_rt_instants_are_far_more_correlated_than_random_pairs(tracks):
    consecutive, shuffled = instant_correlations(read_sequences(tracks)[0].rsrp)
    assert consecutive > 0.95 and consecutive > shuffled + 0.2, (consecutive, shuffled)


def test_a_ue_walking_past_the_bs_in_line_of_sight_sweeps_the_beams_in_order_in_rt():
    """Free space (no geometry): a UE walks across the BS's boresight 40 m out, one position
    every 40 ms at 30 km/h for 6 s; the best beam's azimuth column never falls back and covers
    most of the codebook."""
    from beamsim.simulation.backends.rt import RTBackend
    from beamsim.simulation.codebook import bs_codebook
    from beamsim.simulation.measure import pair_rsrp

    base = small(speeds=(30.0,))
    backend = RTBackend(dataclasses.replace(base, rt=dataclasses.replace(base.rt, scene="empty")), "cpu")
    yaw = backend.tx_orientation[0]
    tx = np.asarray(base.rt.tx_position)
    along = np.arange(-75.0, 75.0, 30 / 3.6 * 0.04)  # [m] 30 km/h, 40 ms apart
    pos = np.stack([tx[0] + 40 * math.cos(yaw) - along * math.sin(yaw),
                    tx[1] + 40 * math.sin(yaw) + along * math.cos(yaw), np.full_like(along, 1.5)], axis=1)
    traced = backend.trace(pos, np.zeros_like(pos), seed=1)
    assert bool(traced.los.all())
    a = traced.a.reshape(len(pos), 1, 32, -1)
    rsrp = pair_rsrp(a, bs_codebook(4, 8), torch.ones(1, 1, dtype=torch.complex64), 30.0).reshape(-1, 4, 8)
    column = rsrp.amax(dim=1).argmax(dim=1)
    assert bool((column.diff() >= 0).all()), column.tolist()
    assert int(column[-1] - column[0]) >= 6, column.tolist()


def test_info_draws_rt_tracks_on_the_buildings_they_stay_out_of(tracks, tmp_path):
    from beamsim.experiments.track_plots import plot_tracks
    from beamsim.simulation.backends.rt_map import scene_footprints

    scenario = load_scenario("street-canyon-case2")
    triangles = scene_footprints(scenario)
    assert triangles.shape[1:] == (3, 2) and len(triangles) > 0
    pos = read_sequences(tracks)[0].ue_pos.reshape(-1, 3)[:, :2] + np.asarray(scenario.rt.tx_position[:2])
    a, b, c = (triangles[:, i][None] for i in range(3))  # [1, m, 2] corners; pos [k, 1, 2]
    p = pos[:, None]

    def side(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    d1, d2, d3 = side(a, b, p), side(b, c, p), side(c, a, p)
    inside = ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))
    area = np.abs(side(a, b, c))[0] > 1e-6  # walls project to zero-area triangles
    assert not inside[:, area].any(), "a UE instant lies inside a building's footprint"
    written = plot_tracks(tracks, tmp_path / "plots")
    assert [p.name for p in written] == ["tracks.png", "beam_change_rate.png"] and all(p.stat().st_size for p in written)

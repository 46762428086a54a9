"""Sionna RT back-end: array conventions in line of sight, path gain, determinism, drops.

Skipped (with the reason) only where Sionna RT cannot run, i.e. no CUDA and no LLVM >= 16.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from beamsim.errors import BackendUnavailableError, ScenarioError
from beamsim.scenarios import load_scenario
from beamsim.simulation.backends.base import facing_orientations
from beamsim.simulation.llvm import import_sionna_rt

pytestmark = pytest.mark.rt

ASIN_QUARTER_DEG = math.degrees(math.asin(0.25))   # 14.48 deg: one beam column (row) is 1/8 in sine space


@pytest.fixture(scope="module", autouse=True)
def sionna_rt():
    try:
        return import_sionna_rt()
    except BackendUnavailableError as exc:
        pytest.skip(f"Sionna RT unavailable: {exc}")


def rt_scenario(name: str = "street-canyon", **rt_changes):
    scn = load_scenario(name)
    return dataclasses.replace(scn, rt=dataclasses.replace(scn.rt, **rt_changes))


def standard_codebook() -> torch.Tensor:
    """[64 beams, 64 antennas] complex64; beam index = e * 8 + a, antenna index = row + col * 8.

    w[e, a] = kron(c_h[a], c_v[e]) / 8 with c[m]_n = exp(j 2 pi n m / 16), m = (k - 4) mod 16,
    checked against Sionna's ``grid_of_beams_dft(8, 8, 2, 2)[(e - 4) % 16, (a - 4) % 16]``.
    """
    from sionna.phy.mimo import grid_of_beams_dft

    n = torch.arange(8, dtype=torch.float64)

    def c(k: int) -> torch.Tensor:
        return torch.exp(1j * 2 * math.pi * n * ((k - 4) % 16) / 16)

    mine = torch.stack([torch.kron(c(a), c(e)) / 8 for e in range(8) for a in range(8)]).to(torch.complex64)
    grid = torch.as_tensor(np.asarray(grid_of_beams_dft(8, 8, 2, 2))).to(torch.complex64)
    sionnas = torch.stack([grid[(e - 4) % 16, (a - 4) % 16] for e in range(8) for a in range(8)])
    assert torch.allclose(mine, sionnas, atol=1e-6)
    return mine


def best_beams(a: torch.Tensor) -> torch.Tensor:
    """[n] int: argmax over beams of sum over paths |w^H a_p|^2, for a [n, 64, paths]."""
    w = standard_codebook()
    power = (w.conj() @ a).abs().square().sum(-1)
    return power.argmax(-1)


def test_rt_planar_array_numbers_elements_like_tr38901_panel_array(sionna_rt):
    from sionna.phy.channel.tr38901 import PanelArray

    rt_arr = sionna_rt.PlanarArray(num_rows=8, num_cols=8, vertical_spacing=0.5, horizontal_spacing=0.5,
                                   pattern="tr38901", polarization="V")
    p = rt_arr.normalized_positions
    rt_pos = np.stack([p.x.numpy(), p.y.numpy(), p.z.numpy()], 1)
    panel = PanelArray(num_rows_per_panel=8, num_cols_per_panel=8, polarization="single", polarization_type="V",
                       antenna_pattern="38.901", carrier_frequency=28e9, device="cpu")
    tr_pos = np.asarray(panel.ant_pos.cpu(), dtype=np.float64) / (299792458.0 / 28e9)
    np.testing.assert_allclose(rt_pos, tr_pos, atol=1e-5)
    # index = row + col * 8, row 0 on top (largest z), column 0 at the smallest y
    assert rt_pos[1, 2] < rt_pos[0, 2] and rt_pos[8, 1] > rt_pos[0, 1] and rt_pos[8, 2] == rt_pos[0, 2]


@pytest.fixture(scope="module")
def free_space():
    """The RT back-end in an empty scene: free space, line of sight only."""
    from beamsim.simulation.backends.rt import RTBackend

    scn = rt_scenario(scene="empty", tx_position=(0.0, 0.0, 10.0), max_depth=0, samples_per_src=1000)
    return RTBackend(scn, torch.device("cpu"))


UE_POSITIONS = torch.tensor([[60.0, 0.0, 1.5], [0.0, 45.0, 1.5], [-35.0, -40.0, 1.5], [20.0, -70.0, 1.5]],
                            dtype=torch.float64)


@pytest.mark.parametrize("d_bearing,d_tilt,expected", [
    (0.0, 0.0, 4 * 8 + 4),                   # boresight at the Tx: central beam
    (ASIN_QUARTER_DEG, 0.0, 4 * 8 + 2),      # yawed left: the Tx appears at local azimuth -14.5 deg
    (-ASIN_QUARTER_DEG, 0.0, 4 * 8 + 6),
    (0.0, ASIN_QUARTER_DEG, 2 * 8 + 4),      # tilted down: the Tx appears 14.5 deg above boresight
    (0.0, -ASIN_QUARTER_DEG, 6 * 8 + 4),
])
def test_line_of_sight_picks_the_beam_pointing_at_the_tx(free_space, d_bearing, d_tilt, expected):
    tx = torch.tensor(free_space.settings.tx_position, dtype=torch.float64)
    orientation = facing_orientations(UE_POSITIONS, tx, 0.0, 0.0)
    orientation[:, 0] += math.radians(d_bearing)
    orientation[:, 1] += math.radians(d_tilt)
    traced = free_space.trace(UE_POSITIONS, orientation, seed=1)
    assert traced.a.shape == (4, 64, 1) and traced.a.dtype == torch.complex64
    assert bool(traced.los.all()) and bool(traced.reached.all())
    assert best_beams(traced.a).tolist() == [expected] * 4


def test_line_of_sight_path_gain_is_friis_times_the_element_gain(free_space):
    """|a|^2 is Sionna's path gain, no extra scaling: (lambda / 4 pi d)^2 x 8 dBi at boresight."""
    tx = torch.tensor(free_space.settings.tx_position, dtype=torch.float64)
    traced = free_space.trace(UE_POSITIONS, facing_orientations(UE_POSITIONS, tx, 0.0, 0.0), seed=1)
    wavelength = 299792458.0 / free_space.scenario.carrier_frequency
    d = torch.linalg.vector_norm(UE_POSITIONS - tx, dim=1)
    expected_db = 20 * torch.log10(wavelength / (4 * math.pi * d)) + 8.0
    gain_db = 10 * torch.log10(traced.a.abs().square().sum(-1).double())   # [n, 64], one path
    assert torch.allclose(gain_db, expected_db[:, None].expand_as(gain_db), atol=0.05)


@pytest.fixture(scope="module")
def canyon():
    from beamsim.simulation.backends.rt import RTBackend

    return RTBackend(rt_scenario(batch_size=12, samples_per_src=10_000), torch.device("cpu"))


def test_same_seed_same_batch(canyon):
    from beamsim.simulation.backends.rt import RTBackend

    first, second = canyon.sample(5), canyon.sample(5)
    other_object = RTBackend(canyon.scenario, torch.device("cpu")).sample(5)
    for batch in (second, other_object):
        assert torch.equal(first.a, batch.a) and torch.equal(first.ue_pos, batch.ue_pos)
        assert torch.equal(first.los, batch.los)
    assert first.a.shape[:2] == (12, 64) and first.a.dtype == torch.complex64
    assert first.ue_pos.shape == (12, 3) and first.ue_pos.dtype == torch.float32
    assert first.los.shape == (12,) and first.los.dtype == torch.bool
    assert bool((first.a != 0).flatten(1).any(1).all()), "a receiver without any path was kept"
    assert first.sionna_seconds > 0
    assert not torch.equal(canyon.sample(6).ue_pos, first.ue_pos)


def test_ues_are_outdoors_in_the_area_and_away_from_the_tx(canyon):
    s = canyon.settings
    pos, _ = canyon.draw_positions(400, seed=3)
    assert pos.shape == (400, 3)
    xmin, xmax, ymin, ymax = s.area
    assert np.all((pos[:, 0] >= xmin) & (pos[:, 0] <= xmax) & (pos[:, 1] >= ymin) & (pos[:, 1] <= ymax))
    assert np.all(np.hypot(pos[:, 0] - s.tx_position[0], pos[:, 1] - s.tx_position[1]) >= s.min_distance)
    assert np.allclose(pos[:, 2], canyon._ground_z + s.ue_height)
    # no UE inside the street canyon's building blocks (x-y footprints from the scene file)
    blocks = [(-62.5, -31.0, -36.5, -8.6), (-15.1, 16.0, -36.5, -8.6), (31.5, 62.6, -36.5, -8.6),
              (-15.1, 16.0, 9.6, 37.5), (-62.4, -31.3, 9.6, 37.5), (32.4, 63.5, 10.3, 38.2)]
    for x0, x1, y0, y1 in blocks:
        inside = (pos[:, 0] > x0 + 0.5) & (pos[:, 0] < x1 - 0.5) & (pos[:, 1] > y0 + 0.5) & (pos[:, 1] < y1 - 0.5)
        assert not inside.any()
    np.testing.assert_array_equal(pos, canyon.draw_positions(400, seed=3)[0])


def test_radio_map_drop_is_deterministic_and_outdoors():
    from beamsim.simulation.backends.rt import RTBackend

    scn = rt_scenario(drop="radio_map", batch_size=12, samples_per_src=10_000)
    first, second = RTBackend(scn), RTBackend(scn)
    pos, seconds = first.draw_positions(200, seed=4)
    assert seconds > 0                                      # the radio map was computed
    np.testing.assert_array_equal(pos, second.draw_positions(200, seed=4)[0])
    ok, _ = first._accept(pos[:, :2])
    assert ok.all()
    batch = first.sample(2)
    assert batch.a.shape[0] == 12 and bool((batch.a != 0).flatten(1).any(1).all())


def test_receivers_without_paths_are_replaced(canyon, monkeypatch):
    """Pretend every receiver west of x = 0 has no path: the batch is refilled from the east."""
    real_trace = canyon.trace

    def trace(ue_positions, orientations, seed):
        traced = real_trace(ue_positions, orientations, seed)
        west = torch.as_tensor(np.asarray(ue_positions)[:, 0] < 0)
        traced.a[west] = 0
        traced.reached &= ~west
        traced.los &= ~west
        return traced

    monkeypatch.setattr(canyon, "trace", trace)
    dropped_before = canyon.dropped_total
    batch = canyon.sample(9)
    assert batch.a.shape[0] == canyon.batch_size == 12
    assert bool((batch.ue_pos[:, 0] + canyon.settings.tx_position[0] >= 0).all())
    assert bool((batch.a != 0).flatten(1).any(1).all())
    assert canyon.dropped_total > dropped_before
    again = canyon.sample(9)
    assert torch.equal(batch.a, again.a) and torch.equal(batch.ue_pos, again.ue_pos)


def test_unknown_scene_lists_the_bundled_ones():
    from beamsim.simulation.backends.rt import RTBackend

    with pytest.raises(ScenarioError, match="unknown scene 'atlantis'.*munich.*simple_street_canyon"):
        RTBackend(rt_scenario(scene="atlantis"))
    with pytest.raises(ScenarioError, match="not an rt scenario"):
        RTBackend(load_scenario("umi"))


def test_bundled_rt_scenarios_load():
    for name, scene in [("street-canyon", "simple_street_canyon"), ("munich", "munich")]:
        scn = load_scenario(name)
        assert scn.backend == "rt" and scn.rt.scene == scene and scn.description
        assert scn.carrier_frequency == 28e9 and scn.ue_array.pattern == "38.901"

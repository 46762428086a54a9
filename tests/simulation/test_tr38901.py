"""Line-of-sight checks through Sionna's TR 38.901 channel: beams point where the BS is."""

import dataclasses

import pytest
import torch

from beamsim.simulation.backends.tr38901 import TR38901Backend
from beamsim.simulation.codebook import dft_codebook
from beamsim.simulation.measure import beam_rsrp
from tests.conftest import tiny_scenario


def los_labels(**array) -> torch.Tensor:
    scn = tiny_scenario(ues_per_drop=24, jitter_bearing_deg=0.0, jitter_tilt_deg=0.0, **array)
    scn = dataclasses.replace(scn, link=dataclasses.replace(scn.link, indoor_probability=0.0))
    batch = TR38901Backend(scn, torch.device("cpu"), force_los=True).sample(11)
    assert bool(batch.los.all())
    return beam_rsrp(batch.a, dft_codebook(), 30.0).argmax(1)


def test_array_facing_the_bs_picks_the_boresight_beam():
    labels = los_labels()
    assert torch.all(labels == 4 * 8 + 4)


@pytest.mark.parametrize("offset,expected", [({"bearing_offset_deg": 14.48}, 4 * 8 + 2),
                                             ({"bearing_offset_deg": -14.48}, 4 * 8 + 6),
                                             ({"tilt_offset_deg": 14.48}, 2 * 8 + 4),
                                             ({"tilt_offset_deg": -14.48}, 6 * 8 + 4)])
def test_turned_array_sees_the_bs_in_the_matching_beam(offset, expected):
    # turning the array left (positive bearing) puts the BS at negative azimuth (column 2);
    # tilting it down puts the BS above boresight (row 2)
    labels = los_labels(**offset)
    assert torch.all(labels == expected)


def test_sample_is_deterministic_and_leaves_global_rng_alone():
    scn = tiny_scenario(ues_per_drop=16)
    backend = TR38901Backend(scn, torch.device("cpu"))
    state = torch.get_rng_state()
    x = backend.sample(5)
    assert torch.equal(state, torch.get_rng_state())
    y = backend.sample(5)
    z = backend.sample(6)
    assert torch.equal(x.a, y.a) and torch.equal(x.ue_pos, y.ue_pos)
    assert not torch.equal(x.a, z.a)
    assert x.a.shape[:2] == (16, 64) and x.a.dtype == torch.complex64

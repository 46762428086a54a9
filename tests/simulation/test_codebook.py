"""Codebook geometry against Sionna's array element positions."""

import math

import torch
from sionna.phy.channel.tr38901 import PanelArray

from beamsim.simulation.codebook import beam_directions, dft_codebook


def steering(ant_pos: torch.Tensor, az_deg: float, el_deg: float, wavelength: float) -> torch.Tensor:
    az, el = math.radians(az_deg), math.radians(el_deg)
    u = torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)], dtype=torch.float64)
    phase = 2 * math.pi / wavelength * (ant_pos.double() @ u)
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def test_sionna_element_order_is_column_major_row0_on_top():
    arr = PanelArray(num_rows_per_panel=8, num_cols_per_panel=8, polarization="single", polarization_type="V",
                     antenna_pattern="38.901", carrier_frequency=28e9, device="cpu")
    pos = arr.ant_pos
    # index = row + col * 8: z falls with the row, y rises with the column
    assert torch.all(pos[1:8, 2] < pos[0:7, 2])
    assert torch.allclose(pos[0:8, 1], pos[0, 1].expand(8))
    assert torch.all(pos[8::8, 1] > pos[0:-8:8, 1])


def test_each_beam_is_strongest_in_its_own_direction():
    fc = 28e9
    arr = PanelArray(num_rows_per_panel=8, num_cols_per_panel=8, polarization="single", polarization_type="V",
                     antenna_pattern="38.901", carrier_frequency=fc, device="cpu")
    wavelength = 299792458.0 / fc
    cb = dft_codebook()
    dirs = beam_directions()
    assert cb.shape == (64, 64)
    assert torch.allclose(cb.abs().square().sum(1), torch.ones(64), atol=1e-5)
    for b in range(64):
        a = steering(arr.ant_pos, float(dirs[b, 0]), float(dirs[b, 1]), wavelength)
        gain = (cb.conj() @ a).abs().square()
        assert int(gain.argmax()) == b
        assert float(gain.max()) > 63.0  # full array gain in the beam's own direction


def test_beam_directions_table():
    dirs = beam_directions()
    el = dirs[:, 1].view(8, 8)[:, 0]
    assert abs(float(el[0]) - 30.0) < 1e-6 and abs(float(el[4])) < 1e-9  # row 0 highest, row 4 boresight
    assert torch.all(el[1:] < el[:-1])
    az = dirs[:, 0].view(8, 8)[4]
    assert abs(float(az[4])) < 1e-9 and torch.all(az[1:] > az[:-1])

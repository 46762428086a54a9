"""BM-Case1 (TR 38.843): BS-side Set A, Set B as a lattice subset or wide beams, Tx-Rx pairs."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.dataset import read_dataset
from beamsim.scenarios import load_scenario, scenario_to_toml
from beamsim.scenarios.beams import subset_mask, subset_strides, wide_blocks, wide_centres, wide_tiling
from beamsim.simulation.codebook import bs_codebook, grid_directions, orthogonal_codebook, wide_codebook
from beamsim.simulation.generate import generate
from tests.refusal import edited_copy, refused

CASES = ("umi-bs", "umi-bs-wide", "umi-pair")


def small(name: str, samples: int = 256, ues_per_drop: int = 128, **link):
    base = load_scenario(name)
    return dataclasses.replace(base, name=f"small-{name}",
                               link=dataclasses.replace(base.link, drops_per_batch=1, ues_per_drop=ues_per_drop, **link),
                               dataset=dataclasses.replace(base.dataset, samples=samples))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("case1")
    out = {}
    for name in CASES:
        out[name] = folder / f"{name}.h5"
        generate(small(name), out[name], seed=4, device="cpu")
    return out


def response(pos: torch.Tensor, az_deg: float, el_deg: float, wavelength: float) -> torch.Tensor:
    """Array response to a plane wave from (az, el) in the array frame: exp(j 2 pi r.p / lambda)."""
    az, el = math.radians(az_deg), math.radians(el_deg)
    r = torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)], dtype=torch.float64)
    return torch.exp(1j * 2 * math.pi / wavelength * (pos @ r))


def bs_rotation(yaw: float, tilt: float) -> torch.Tensor:
    """Rz(yaw) Ry(tilt): the BS frame in scene coordinates (Sionna's orientation, gamma = 0)."""
    rz = torch.tensor([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]],
                      dtype=torch.float64)
    ry = torch.tensor([[math.cos(tilt), 0, math.sin(tilt)], [0, 1, 0], [-math.sin(tilt), 0, math.cos(tilt)]],
                      dtype=torch.float64)
    return rz @ ry


@pytest.mark.parametrize("rows,cols", [(4, 8), (2, 4), (8, 8)])
def test_each_bs_beam_is_the_strongest_toward_its_direction_through_sionnas_array(rows, cols):
    from sionna.phy.channel.tr38901 import PanelArray

    fc = 28e9
    array = PanelArray(num_rows_per_panel=rows, num_cols_per_panel=cols, polarization="single",
                       polarization_type="V", antenna_pattern="38.901", carrier_frequency=fc, precision="single",
                       device="cpu")
    pos = array.ant_pos.double()
    codebook = bs_codebook(rows, cols).to(torch.complex128)
    directions = grid_directions(rows, cols)
    checked = 0
    for beam, (az, el) in enumerate(directions.tolist()):
        if math.isnan(az):
            continue
        gains = (codebook.conj() @ response(pos, az, el, 3e8 / fc)).abs()
        assert int(gains.argmax()) == beam, (beam, az, el)
        checked += 1
    assert checked >= rows * cols - rows  # at most the edge beam of each row leaves the visible region


def test_a_line_of_sight_ue_gets_the_bs_beam_that_points_at_it():
    """UEs forced into LoS, through Sionna's TR 38.901 channel: the label is the beam whose
    direction (BS frame: Sionna's sector yaw and downtilt) has the largest array gain."""
    from sionna.phy.channel.tr38901 import PanelArray

    from beamsim.simulation.backends.tr38901 import TR38901Backend, sionna_seed
    from beamsim.simulation.measure import best_beam, pair_rsrp

    scenario = small("umi-bs", ues_per_drop=200, indoor_probability=0.0)
    backend = TR38901Backend(scenario, torch.device("cpu"), force_los=True)
    batch = backend.sample(11)
    label = best_beam(pair_rsrp(batch.a, bs_codebook(4, 8), torch.ones(1, 1, dtype=torch.complex64), 30.0).flatten(1))
    with sionna_seed(0):
        _, _, _, bs_orient, _, _ = backend._topology()
    yaw, tilt, _ = bs_orient[0, 0].double().tolist()
    rotation = bs_rotation(yaw, tilt)
    local = batch.ue_pos.double() @ rotation  # rows: R^T d, the UE seen in the BS frame
    az = torch.rad2deg(torch.atan2(local[:, 1], local[:, 0]))
    el = torch.rad2deg(torch.atan2(local[:, 2], local[:, :2].norm(dim=1)))
    array = PanelArray(num_rows_per_panel=4, num_cols_per_panel=8, polarization="single", polarization_type="V",
                       antenna_pattern="38.901", carrier_frequency=28e9, precision="single", device="cpu")
    pos, codebook = array.ant_pos.double(), bs_codebook(4, 8).to(torch.complex128)
    pointing = torch.stack([(codebook.conj() @ response(pos, a, e, 3e8 / 28e9)).abs().argmax()
                            for a, e in zip(az.tolist(), el.tolist())])
    assert batch.los.all()
    agree = (pointing == label).double().mean().item()
    assert agree >= 0.9, f"only {agree:.0%} of LoS UEs get the beam pointing at them"


@pytest.mark.parametrize("rows,cols,k", [(4, 8, 8), (4, 8, 4), (4, 8, 16), (8, 8, 16), (4, 8, 2)])
def test_the_wide_beams_cover_the_sector(rows, cols, k):
    """Each narrow beam's direction lies within the 3 dB main lobe of the wide beam over it."""
    narrow, wide = bs_codebook(rows, cols), wide_codebook(rows, cols, k)
    kr, kc = wide_tiling(rows, cols, k)
    gain = (wide.conj() @ narrow.T).abs().square() * (rows * cols)  # |w^H v(theta_b)|^2, v = sqrt(N) c_b
    own = gain[torch.as_tensor(wide_blocks(rows, cols, k)), torch.arange(rows * cols)]
    assert (own >= 0.5 * kr * kc).all()  # the peak of a kr x kc sub-array beam is kr * kc
    assert torch.allclose(wide.norm(dim=1), torch.ones(k), atol=1e-5)


def test_blocks_of_one_beam_are_the_narrow_beams_and_pair_rx_beams_are_orthogonal():
    assert torch.allclose(wide_codebook(4, 8, 32), bs_codebook(4, 8), atol=1e-5)
    rx = orthogonal_codebook(2, 2)
    assert torch.allclose(rx @ rx.conj().T, torch.eye(4, dtype=rx.dtype), atol=1e-6)


def test_set_b_is_the_documented_lattice_and_the_wide_blocks_their_tiling():
    assert np.flatnonzero(subset_mask(4, 8, 8)).tolist() == [0, 2, 4, 6, 16, 18, 20, 22]
    assert np.flatnonzero(subset_mask(4, 8, 16)).tolist() == list(range(0, 32, 2))
    assert subset_strides(32, 4, 32) == (2, 2)
    assert wide_tiling(4, 8, 8) == (2, 4)
    assert wide_blocks(4, 8, 8).reshape(4, 8).tolist()[1] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert wide_centres(4, 8, 8).tolist() == [0, 2, 4, 6, 16, 18, 20, 22]


def test_the_files_hold_set_a_set_b_and_labels_from_the_true_set_a(files):
    for name, path in files.items():
        arrays, attrs = read_dataset(path)
        n = len(arrays)
        assert int(attrs["format_version"]) == 2 and attrs["side"] == name.split("-")[1]
        assert (arrays.label == arrays.rsrp.reshape(n, -1).argmax(axis=1)).all()
        rows, cols = (int(v) for v in attrs["set_a_shape"])
        assert arrays.rsrp.shape == (n, rows, cols)
        if name == "umi-bs-wide":
            assert arrays.rsrp_setb.shape == (n, 2, 4) and not arrays.mask.any()
            assert attrs["set_b_centres"].tolist() == wide_centres(4, 8, 8).tolist()
        else:
            assert arrays.rsrp_setb is None
            measured = np.flatnonzero(arrays.mask[0])
            assert measured.tolist() == attrs["set_b_indices"].tolist()
            assert (arrays.mask == arrays.mask[0]).all() and measured.size == int(attrs["set_b_size"])
    assert read_dataset(files["umi-pair"])[0].rsrp.shape[1:] == (32, 4)


def test_a_ue_side_file_stays_format_version_1(tiny_dataset):
    with h5py.File(tiny_dataset) as f:
        assert int(f.attrs["format_version"]) == 1
        assert not {"side", "set_b", "set_a_shape"} & set(f.attrs) and "rsrp_setb" not in f


def test_info_shows_set_a_and_set_b(files, tmp_path):
    result = CliRunner().invoke(app, ["info", str(files["umi-bs-wide"]), "--json", "--plot", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["side"], doc["set_a"], doc["set_b"], doc["set_b_size"], doc["set_b_shape"]) == \
        ("bs", [4, 8], "wide", 8, [2, 4])
    assert len(doc["class_counts"]) == 32 and (tmp_path / "bs_beams.png").stat().st_size > 0


@pytest.mark.parametrize("name,reference", [("umi-bs", "strongest observed beam"),
                                            ("umi-bs-wide", "centre of the strongest wide beam"),
                                            ("umi-pair", "strongest observed beam")])
def test_evaluate_reports_the_kpis_beside_the_trivial_reference(files, name, reference):
    result = CliRunner().invoke(app, ["evaluate", "--train", str(files[name]), "--runs", "1", "--epochs", "2",
                                      "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert reference in json.dumps(doc)
    assert doc["num_classes"] == (128 if name == "umi-pair" else 32)


@pytest.mark.parametrize("name", ["umi-bs", "umi-bs-wide"])
def test_distill_runs_on_set_a_classes(files, name, tmp_path, tiny_config):
    out = tmp_path / "d.h5"
    result = CliRunner().invoke(app, ["distill", "--data", str(files[name]), "--config", str(tiny_config),
                                      "--cache-dir", str(tmp_path / "experts"), "--spc", "2", "--bits", "6",
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    evaluated = CliRunner().invoke(app, ["evaluate", "--train", str(out), "--runs", "1", "--epochs", "2", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["num_classes"] == 32


@pytest.mark.parametrize("base,old,new,needle", [
    ("umi-bs", "set_b_size = 8", "set_b_size = 7", "does not divide Set A"),
    ("umi-bs-wide", "set_b_size = 8", "set_b_size = 64", "more than the 32 elements"),
    ("umi-bs-wide", "set_b_size = 8", "set_b_size = 6", "cannot tile"),
    ("umi-bs", 'side = "bs"', 'side = "ris"', "beams.side must be"),
    ("umi-bs-wide", 'side = "bs"', 'side = "pair"', "needs beams.side = 'bs'"),
    ("umi-bs", "[ue_array]\nnum_rows = 1", "[ue_array]\nnum_rows = 2", "listens with one UE antenna"),
], ids=["subset-not-dividing", "wide-more-than-elements", "wide-no-tiling", "unknown-side", "wide-pair",
        "bs-with-ue-array"])
def test_bad_codebook_settings_are_one_line(tmp_path, base, old, new, needle):
    text = scenario_to_toml(load_scenario(base))
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new))
    refused(["generate", "--scenario", path, "--samples", "16", "--out", tmp_path / "x.h5"], tmp_path, needle)


@pytest.mark.rt
def test_a_line_of_sight_ue_gets_the_bs_beam_that_points_at_it_in_sionna_rt():
    """The RT back-end with a BS array: UEs in free space at known directions from the BS get
    the BS beam that points there (the BS faces the centre of rt.area at UE height)."""
    from beamsim.errors import BackendUnavailableError
    from beamsim.simulation.backends.rt import RTBackend
    from beamsim.simulation.llvm import import_sionna_rt
    from beamsim.simulation.measure import best_beam, pair_rsrp

    try:
        import_sionna_rt()
    except BackendUnavailableError as exc:
        pytest.skip(f"Sionna RT unavailable: {exc}")
    base = load_scenario("street-canyon-bs")
    backend = RTBackend(dataclasses.replace(base, rt=dataclasses.replace(base.rt, scene="empty")), "cpu")
    yaw, tilt, _ = backend.tx_orientation
    rotation = bs_rotation(yaw, tilt)
    tx = torch.tensor(base.rt.tx_position, dtype=torch.float64)
    directions = grid_directions(4, 8)
    beams = [b for b in range(32) if not math.isnan(directions[b, 0]) and directions[b, 1] <= 0]  # toward the ground
    places, expected = [], []
    for b in beams:
        az, el = (math.radians(v) for v in directions[b].tolist())
        local = torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)],
                             dtype=torch.float64)
        world = rotation @ local
        if world[2] >= -0.05:  # would not reach the UE height
            continue
        places.append(tx + world * (tx[2] - base.rt.ue_height) / -world[2])
        expected.append(b)
    assert len(expected) >= 8
    traced = backend.trace(torch.stack(places), torch.zeros(len(places), 3), seed=1)
    a = traced.a.reshape(len(places), 1, 32, -1)
    label = best_beam(pair_rsrp(a, bs_codebook(4, 8), torch.ones(1, 1, dtype=torch.complex64), 30.0).flatten(1))
    assert bool(traced.los.all())
    assert label.tolist() == expected


def test_shards_of_a_wide_set_merge_into_the_whole_run(files, tmp_path):
    from beamsim.simulation.generate import merge

    scenario = small("umi-bs-wide")
    parts = [tmp_path / f"s{i}.h5" for i in range(2)]
    for i, part in enumerate(parts):
        generate(scenario, part, seed=4, device="cpu", shard=f"{i}/2")
    merge(parts, tmp_path / "merged.h5")
    (whole, whole_attrs), (merged, merged_attrs) = read_dataset(files["umi-bs-wide"]), read_dataset(tmp_path / "merged.h5")
    for name, value in whole.as_dict().items():
        assert np.array_equal(value, getattr(merged, name)), name
    assert merged_attrs["set_b_centres"].tolist() == whole_attrs["set_b_centres"].tolist()


def test_a_bs_side_scenario_without_a_bs_array_is_one_line(tmp_path):
    text = scenario_to_toml(load_scenario("umi-bs"))
    start = text.index("[bs_array]")
    end = text.index("\n[", start + 1)
    path = tmp_path / "bad.toml"
    path.write_text(text[:start] + text[end + 1:])
    refused(["generate", "--scenario", path, "--samples", "16", "--out", tmp_path / "x.h5"], tmp_path,
            "needs a [bs_array] table")


def test_wide_beams_in_a_version_1_file_are_foreign(files, tmp_path):
    bad = edited_copy(files["umi-bs-wide"], tmp_path, lambda f: f.attrs.__setitem__("format_version", 1))
    refused(["info", bad], tmp_path, "/rsrp_setb is not part of format_version 1")


def test_nan_in_the_wide_beams_behind_a_valid_checksum_is_one_line(files, tmp_path):
    from beamsim.dataset import BeamArrays, arrays_checksum

    def poison(f):
        setb = f["rsrp_setb"][()]
        setb[3, 1, 2] = np.nan
        del f["rsrp_setb"]
        f["rsrp_setb"] = setb
        f.attrs["sha256"] = arrays_checksum(BeamArrays(**{name: f[name][()] for name in f}))

    bad = edited_copy(files["umi-bs-wide"], tmp_path, poison)
    refused(["evaluate", "--train", bad, "--runs", "1"], tmp_path, "rsrp_setb", "NaN")

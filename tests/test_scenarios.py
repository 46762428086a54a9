"""Scenario files: bundled set, round trip, validation."""

import dataclasses

import pytest

from beamsim.errors import ScenarioError
from beamsim.scenarios import list_scenarios, load_scenario, scenario_from_toml, scenario_to_toml


def test_bundled_scenarios_load_and_round_trip():
    found = list_scenarios()
    assert {"umi", "uma", "rma"} <= set(found)
    for name, scn in found.items():
        assert scn.name == name and scn.description
        assert scenario_from_toml(scenario_to_toml(scn)) == scn


def test_umi_defaults_match_the_design():
    scn = load_scenario("umi")
    assert scn.carrier_frequency == 28e9 and scn.backend == "tr38901" and scn.link.model == "umi"
    assert (scn.ue_array.num_rows, scn.ue_array.num_cols, scn.ue_array.pattern) == (8, 8, "38.901")
    assert (scn.codebook.oversampling, scn.codebook.num_el, scn.codebook.num_az) == (2, 8, 8)
    assert scn.mask.kind == "fixed" and scn.mask.measured_fraction == 0.5
    assert scn.dataset.samples == 30000 and scn.dataset.test_fraction == 0.2


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="known scenarios: .*umi"):
        load_scenario("mars")


@pytest.mark.parametrize("text,match", [
    ("name='x'\ndescription='y'\n[link]\nmodel='umi'\nbogus=1\n", "unknown key"),
    ("name='x'\ndescription='y'\n[link]\nmodel='lte'\n", "link.model"),
    ("name='x'\ndescription='y'\n[link]\n[mask]\nkind='sometimes'\n", "mask must be"),
    ("name='x'\ndescription='y'\n[link]\n[dataset]\nsamples=0\n", "samples must be"),
    ("name='x'\ndescription='y'\nbackend='rt'\n", "needs an \\[rt\\] table"),
    ("name='x'\ndescription='y'\n[nope]\n", "unknown table"),
    ("name = \n", "not valid TOML"),
])
def test_invalid_scenarios_say_what_is_wrong(text, match):
    with pytest.raises(ScenarioError, match=match):
        scenario_from_toml(text)


def test_overrides():
    scn = load_scenario("umi").with_overrides(samples=10, mask="random", split="blocks")
    assert (scn.dataset.samples, scn.mask.kind, scn.dataset.split) == (10, "random", "blocks")
    with pytest.raises(ValueError):
        load_scenario("umi").with_overrides(mask="half")


def test_case2_sweep_is_the_street_canyon_layout_with_set_b_equal_to_set_a_every_160_ms():
    """The docs compare the two files track for track: only Set B's size and the period may differ."""
    base, sweep = load_scenario("street-canyon-case2"), load_scenario("street-canyon-case2-sweep")
    assert sweep.beams.set_b_size == sweep.bs_array.num_rows * sweep.bs_array.num_cols == 32
    assert sweep.trajectory.period_ms == 160.0
    same = dataclasses.replace(sweep, name=base.name, description=base.description,
                               beams=dataclasses.replace(sweep.beams, set_b_size=base.beams.set_b_size),
                               trajectory=dataclasses.replace(sweep.trajectory, period_ms=base.trajectory.period_ms))
    assert same == base

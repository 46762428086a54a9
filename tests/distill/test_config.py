"""Distill settings: shipped defaults, the objective's own table, user files, options."""

import pytest

from beamsim.distill.config import OBJECTIVES, default_config, load_config, resolve_config, shipped_defaults


def test_trajectory_matching_is_the_default_with_its_own_step_and_dm_keeps_the_flat_one():
    flat, tables = shipped_defaults("beam")
    assert set(tables) <= set(OBJECTIVES) and "tm" in tables
    dm, tm = default_config("beam", objective="dm"), default_config("beam")
    assert flat["objective"] == "tm" and dm.objective == "dm" and dm.lr_syn == flat["lr_syn"]
    assert tm.objective == "tm" and tm.lr_syn == tables["tm"]["lr_syn"] != dm.lr_syn
    changed = {k for k, v in tm.as_dict().items() if dm.as_dict()[k] != v}
    assert changed == {"objective"} | set(tables["tm"])


def test_an_explicit_value_beats_the_objectives_table(tmp_path):
    assert default_config("beam", objective="tm", lr_syn=3.0).lr_syn == 3.0
    user = tmp_path / "user.toml"
    user.write_text('objective = "tm"\nlr_syn = 2.5\n')
    assert resolve_config("beam", user).lr_syn == 2.5
    user.write_text('lr_syn = 2.5\n')
    assert resolve_config("beam", user, objective="tm").lr_syn == 2.5


def test_the_objective_picks_the_table_wherever_it_is_given(tmp_path):
    tm_step = shipped_defaults("beam")[1]["tm"]["lr_syn"]
    user = tmp_path / "user.toml"
    user.write_text('objective = "tm"\nspc = 7\n')
    from_file = resolve_config("beam", user)
    assert (from_file.objective, from_file.lr_syn, from_file.spc) == ("tm", tm_step, 7)
    # an option overrides the file's objective, and that objective's defaults follow
    to_dm = resolve_config("beam", user, objective="dm")
    assert to_dm.objective == "dm" and to_dm.lr_syn == shipped_defaults("beam")[0]["lr_syn"] != tm_step
    assert resolve_config("beam", None, objective="tm").lr_syn == tm_step
    # None options are ignored; data-set defaults sit under the user file
    user.write_text('model = "beamcnn"\n')
    assert resolve_config("beam", user, {"model": "mlp"}, objective=None).model == "beamcnn"
    assert resolve_config("beam", None, {"model": "mlp"}).model == "mlp"


@pytest.mark.parametrize("text, fragment", [("lr_syn = [", "not valid TOML"), ("speed = 3\n", "unknown distill setting")])
def test_bad_user_files_are_named(tmp_path, text, fragment):
    user = tmp_path / "bad.toml"
    user.write_text(text)
    with pytest.raises(ValueError, match=fragment):
        resolve_config("beam", user)
    with pytest.raises(ValueError, match="does not exist"):
        resolve_config("beam", tmp_path / "none.toml")


def test_a_user_file_may_hold_objective_tables_too(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('lr_syn = 5.0\n\n[tm]\nlr_syn = 0.5\nsyn_steps = 7\n\n[dm]\nreal_per_class = 16\n')
    tm, dm = resolve_config("beam", user), resolve_config("beam", user, objective="dm")
    assert (tm.objective, tm.lr_syn, tm.syn_steps, tm.real_per_class) == ("tm", 0.5, 7, 128)
    assert (dm.objective, dm.lr_syn, dm.syn_steps, dm.real_per_class) == ("dm", 5.0, 20, 16)
    assert resolve_config("beam", user, objective="tm", lr_syn=2.0).lr_syn == 2.0  # an option still wins
    assert load_config(user, default_config("beam", objective="dm")).real_per_class == 16


def test_a_table_not_named_after_an_objective_is_refused(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('[fast]\niterations = 3\n')
    with pytest.raises(ValueError, match=r"named after an objective.*\[fast\]"):
        resolve_config("beam", user)

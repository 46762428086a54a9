"""Distill settings: nested per concern, shipped defaults, the objective's own table, user files, options."""

import dataclasses
import tomllib

import pytest

from beamsim import tomlio
from beamsim.distill.config import (FLAT_KEYS, GROUPS, DistillConfig, default_config, load_config, resolve_config,
                                    shipped_defaults)
from beamsim.distill.objectives import objective_names


def test_trajectory_matching_is_the_default_with_its_own_step_and_dm_keeps_the_flat_one():
    flat, tables = shipped_defaults("beam")
    assert flat == {"init": "herding", "allocation": "proportional"} and set(tables) == {"tm"}, \
        "beam.toml changes the initial set and its allocation, and what trajectory matching uses"
    assert default_config("beam", objective="dm").init == "herding" and default_config("image").init == "real"
    assert default_config("image").allocation == "fixed"
    dm, tm = default_config("beam", objective="dm"), default_config("beam")
    assert DistillConfig().objective == "tm" == tm.objective and dm.objective == "dm"
    assert dm.step == DistillConfig().step and tm.step.lr_syn == tables["tm"]["lr_syn"] != dm.step.lr_syn
    changed = {k for k, v in tm.as_dict().items() if dm.as_dict()[k] != v}
    assert changed == {"objective"} | set(tables["tm"])


def test_the_config_is_nested_per_concern():
    cfg = default_config("beam")
    assert (cfg.quantizer.name, cfg.quantizer.bits, cfg.quantizer.granularity) == ("apot", 6, "feature")
    assert (cfg.experts.num, cfg.experts.epochs) == (3, 12)
    assert cfg.trajectory.syn_steps == 10 and cfg.iterations == 200, "trajectory matching's own table"
    assert default_config("beam", objective="dm").trajectory.syn_steps == 20
    assert cfg.matching.real_per_class == 128 and cfg.validation.every == 50
    assert not cfg.augment.dsa and default_config("image").augment.dsa
    assert set(GROUPS) == {f.name for f in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))}


def test_a_flat_key_a_group_mapping_and_a_group_object_change_the_same_setting():
    cfg = default_config("beam")
    assert cfg.replace(bits=4) == cfg.replace(quantizer={"bits": 4}) == cfg.replace(
        quantizer=dataclasses.replace(cfg.quantizer, bits=4))
    assert cfg.replace(num_experts=2).experts.num == 2 and cfg.replace(experts={"num": 2}).experts.num == 2
    with pytest.raises(ValueError, match="unknown setting 'speed' in \\[quantizer\\]"):
        cfg.replace(quantizer={"speed": 1})


def test_the_record_is_the_flat_one_of_format_1_and_reads_back():
    cfg = default_config("image", spc=3, bits=32, objective="tm", dsa_strategy="color_crop", quantizer="none",
                         param="palette", coefficients=3, colors=4, lr_param=0.2, palette_balance=0.5, palette_max=2.0,
                         palette_warmup=7, allocation="proportional", val_patience=2)
    soft = default_config("beam", soft_labels=True, label_topk=3, label_bits=2, lr_label=1.0)
    keys = list(FLAT_KEYS)
    for config in (cfg, soft):
        record = config.as_dict()
        assert list(record) == [k for k in keys if k in record], \
            "the record's keys and their order are part of every file's bytes"
        assert DistillConfig.from_record(record) == config
    assert set(cfg.as_dict()) | set(soft.as_dict()) == set(FLAT_KEYS), "every key is recorded when set"
    beam = default_config("beam").as_dict()
    assert "dsa" not in beam and "dsa_strategy" not in beam, "image-only keys are recorded only when set"
    assert not {k for k, (group, _) in FLAT_KEYS.items() if group == "param"} & set(beam), \
        "the parameterization's keys are recorded only when set (older records keep their bytes)"
    assert not {k for k, (group, _) in FLAT_KEYS.items() if group == "labels"} & set(beam)


def test_a_nested_file_and_the_flat_file_of_0_1_give_the_same_config(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text("bits = 4\nnum_experts = 2\nsyn_steps = 5\nval_every = 7\nreal_per_class = 16\n")
    nested = tmp_path / "nested.toml"
    nested.write_text("[quantizer]\nbits = 4\n[experts]\nnum = 2\n[trajectory]\nsyn_steps = 5\n"
                      "[validation]\nevery = 7\n[matching]\nreal_per_class = 16\n")
    assert resolve_config("beam", flat) == resolve_config("beam", nested)
    assert resolve_config("beam", nested, objective="dm") == resolve_config("beam", flat, objective="dm")


def test_tables_write_a_file_that_loads_back(tmp_path):
    cfg = default_config("image", objective="tm", spc=2)
    path = tmp_path / "written.toml"
    path.write_text(tomlio.dumps(cfg.tables()))
    assert set(tomllib.loads(path.read_text())) >= set(GROUPS)
    assert load_config(path) == cfg


@pytest.mark.parametrize("change, fragment", [
    ({"objective": "magic"}, "unknown objective 'magic': use one of"),
    ({"quantizer": "magic"}, "unknown quantizer 'magic': use one of"),
    ({"init": "magic"}, "unknown init 'magic': use one of"),
    ({"model": "magic"}, "unknown model 'magic'; known models:"),
])
def test_names_are_checked_against_the_registries(change, fragment):
    with pytest.raises(ValueError, match=fragment):
        default_config("beam", **change)


def test_the_known_objectives_are_the_registry_s():
    with pytest.raises(ValueError) as err:
        default_config("beam", objective="magic")
    assert all(name in str(err.value) for name in objective_names())


def test_an_explicit_value_beats_the_objectives_table(tmp_path):
    assert default_config("beam", objective="tm", lr_syn=3.0).step.lr_syn == 3.0
    user = tmp_path / "user.toml"
    user.write_text('objective = "tm"\nlr_syn = 2.5\n')
    assert resolve_config("beam", user).step.lr_syn == 2.5
    user.write_text('lr_syn = 2.5\n')
    assert resolve_config("beam", user, objective="tm").step.lr_syn == 2.5


def test_the_objective_picks_the_table_wherever_it_is_given(tmp_path):
    tm_step = shipped_defaults("beam")[1]["tm"]["lr_syn"]
    user = tmp_path / "user.toml"
    user.write_text('objective = "tm"\nspc = 7\n')
    from_file = resolve_config("beam", user)
    assert (from_file.objective, from_file.step.lr_syn, from_file.spc) == ("tm", tm_step, 7)
    # an option overrides the file's objective, and that objective's defaults follow
    to_dm = resolve_config("beam", user, objective="dm")
    assert to_dm.objective == "dm" and to_dm.step.lr_syn == DistillConfig().step.lr_syn != tm_step
    assert resolve_config("beam", None, objective="tm").step.lr_syn == tm_step
    # None options are ignored; data-set defaults sit under the user file
    user.write_text('model = "beamcnn"\n')
    assert resolve_config("beam", user, {"model": "convnet3"}, objective=None).model == "beamcnn"
    assert resolve_config("beam", None, {"model": "convnet3"}).model == "convnet3"


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
    assert (tm.objective, tm.step.lr_syn, tm.trajectory.syn_steps, tm.matching.real_per_class) == ("tm", 0.5, 7, 128)
    assert (dm.objective, dm.step.lr_syn, dm.trajectory.syn_steps, dm.matching.real_per_class) == ("dm", 5.0, 20, 16)
    assert resolve_config("beam", user, objective="tm", lr_syn=2.0).step.lr_syn == 2.0  # an option still wins
    assert load_config(user, default_config("beam", objective="dm")).matching.real_per_class == 16


def test_a_table_that_is_neither_a_group_nor_an_objective_is_refused(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('[fast]\niterations = 3\n')
    with pytest.raises(ValueError, match=r"a group \(quantizer, .*\) or named after an objective.*\[fast\]"):
        resolve_config("beam", user)


def test_expert_settings_take_their_defaults_from_the_config():
    from beamsim.distill.experts import ExpertSettings

    experts = ExpertSettings.from_config(DistillConfig())
    assert (experts.num_experts, experts.epochs, experts.lr, experts.batch_size) == (3, 12, 0.1, 256)
    assert ExpertSettings() == experts, "one source for the expert defaults"

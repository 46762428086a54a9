"""Studies: outputs, figure data, resuming, sweet spots, imbalance report, method registry."""

from __future__ import annotations

import csv
import dataclasses
import doctest
import importlib
import json
import shlex
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import beamsim.cli.main  # noqa: F401  (registers every command)
import beamsim.experiments.evaluate as evaluation
import beamsim.experiments.studies.settings as settings_mod
from beamsim.cli.main import app
from beamsim.dataset import BeamDataset
from beamsim.distill.config import default_config
from beamsim.distill.container import describe, read
from beamsim.distill.quadd import QuADD
from beamsim.experiments.studies import baselines as baselines_mod
from beamsim.experiments.studies.baselines import baseline_methods, baselines_study, register_method
from beamsim.experiments.studies.runner import Point, run_points
from beamsim.experiments.studies.settings import StudyContext, StudySettings, parse_int_list, settings_hash
from beamsim.experiments.studies.sources import DistillSource, Made, RealSource, TrainingSource, distilled_info
from beamsim.experiments.studies.imbalance import class_shortage, imbalance_study
from beamsim.experiments.studies.plots import draw_figure
from beamsim.experiments.studies.rate_distortion import rate_distortion_study, sweet_spots

#: Distillation settings that make a run take well under a second on tiny data.
TINY = dict(iterations=2, real_per_class=4, val_fraction=0.0, num_experts=1, expert_epochs_train=3, max_start_epoch=1,
            initial_max_start_epoch=0, expert_epochs=1, syn_steps=2, batch_syn=16, checkpoint_every=1)


def tiny_settings(data: Path, out: Path, **kwargs) -> StudySettings:
    kwargs.setdefault("cache_dir", out.parent / "experts")
    return StudySettings(data=data, out=out, runs=1, epochs=2, config=default_config("beam", **TINY), seed=3,
                         device="cpu", **kwargs)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def replay_distill(command: str, out: str) -> bytes:
    """Run the ``beamsim distill`` part of a point's recorded command through the CLI (writing
    ``out`` instead of the study's file); the bytes it writes."""
    args = shlex.split(command.split(" && ")[0])
    assert args[:2] == ["beamsim", "distill"], command
    args = args[2:]
    args[args.index("--out") + 1] = out
    r = CliRunner().invoke(app, ["distill", *args, "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    return Path(out).read_bytes()


# --------------------------------------------------------------------------- pure parts
def test_sweet_spots_pick_the_best_point_within_each_budget():
    rows = [
        {"name": "s10-b8", "payload_bits": 400, "top1_mean": 0.60},
        {"name": "s10-b2", "payload_bits": 100, "top1_mean": 0.40},
        {"name": "s50-b2", "payload_bits": 500, "top1_mean": 0.70},
        {"name": "s10-b4", "payload_bits": 200, "top1_mean": 0.55},
        {"name": "s50-b8", "payload_bits": 2000, "top1_mean": 0.69},  # more bits, not better
    ]
    spots = sweet_spots(rows)
    assert [s["budget"] for s in spots] == [100, 200, 400, 500, 2000]
    assert [s["name"] for s in spots] == ["s10-b2", "s10-b4", "s10-b8", "s50-b2", "s50-b2"]
    # explicit budgets: one below every cost, one in between
    spots = sweet_spots(rows, budgets=[50, 450])
    assert spots[0]["name"] is None and spots[1]["name"] == "s10-b8"


def test_sweet_spots_ties_go_to_the_cheaper_point_and_missing_values_are_skipped():
    rows = [{"name": "a", "payload_bits": 300, "top1_mean": 0.5},
            {"name": "b", "payload_bits": 200, "top1_mean": 0.5},
            {"name": "c", "payload_bits": 100, "top1_mean": None}]
    assert [s["name"] for s in sweet_spots(rows)] == ["b", "b"]
    assert sweet_spots([]) == []


def test_class_shortage_counts_short_classes_before_and_after_the_holdout():
    r = class_shortage(torch.tensor([0, 5, 49, 50, 55, 200]), 50, holdout_fraction=0.1)
    assert r["classes"] == 6 and r["classes_short"] == 3
    assert r["missing_samples"] == 50 + 45 + 1
    assert r["min_count"] == 0
    # 50 -> 45 available, 55 -> 50 (floor(5.5) = 5 held out): only 50 becomes short
    assert r["classes_short_after_holdout"] == 4
    assert [row["class"] for row in r["short"]] == [0, 1, 2, 3]
    assert r["short"][3] == {"class": 3, "count": 50, "short_by": 0, "available": 45, "short_by_after_holdout": 5}


@pytest.mark.parametrize("text,fragment", [("2,x", "'x' is not an integer"), ("9", "out of range"),
                                           ("", "comma-separated"), ("2,,4", "comma-separated"),
                                           ("4,4", "given twice"), ("0", "out of range")])
def test_parse_int_list_rejects_bad_lists(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_int_list(text, "--bits", 1, 8)


def test_settings_validate_themselves(tmp_path):
    with pytest.raises(ValueError, match="--runs"):
        StudySettings(data=tmp_path / "d.h5", out=tmp_path, runs=0)
    with pytest.raises(ValueError, match="unknown objective"):
        StudySettings(data=tmp_path / "d.h5", out=tmp_path, objective="magic")
    with pytest.raises(ValueError, match="encoding"):
        StudySettings(data=tmp_path / "d.h5", out=tmp_path, encoding="loud")
    s = StudySettings(data=tmp_path / "d.h5", out=tmp_path, iterations=7, objective="tm")
    assert s.distill_config(spc=3).iterations == 7 and s.distill_config(spc=3).objective == "tm"
    assert s.distill_config(objective="none").iterations == 0
    assert s.distill_config(quantizer="none").quantizer.bits == 32


def test_default_epochs_points_record_the_epochs_rule(tmp_path, monkeypatch):
    default = StudySettings(data=tmp_path / "d.h5", out=tmp_path)
    given = StudySettings(data=tmp_path / "d.h5", out=tmp_path, epochs=300)
    assert default.evaluation_settings()["epochs_rule"] == settings_mod.EPOCHS_RULE
    assert "epochs_rule" not in given.evaluation_settings()  # given epochs: the rule plays no part
    before = settings_hash(default.evaluation_settings())
    monkeypatch.setattr(settings_mod, "EPOCHS_RULE", settings_mod.EPOCHS_RULE + 1)
    assert settings_hash(default.evaluation_settings()) != before
    assert given.evaluation_settings() == {"runs": given.runs, "epochs": 300, "seed": given.seed, "model": given.model}


def test_settings_hash_ignores_key_order_and_sees_every_value():
    assert settings_hash({"a": 1, "b": {"c": 2}}) == settings_hash({"b": {"c": 2}, "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})


def test_draw_figure_rejects_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown figure kind"):
        draw_figure({"kind": "pie"}, tmp_path / "x.png")


@pytest.mark.parametrize("name", ["beamsim.experiments.studies.settings", "beamsim.experiments.studies.commands",
                                  "beamsim.experiments.studies.plots", "beamsim.experiments.studies.rate_distortion",
                                  "beamsim.experiments.studies.imbalance", "beamsim.experiments.studies.baselines"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- rate-distortion
@pytest.fixture(scope="module")
def rd_study(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("rd") / "study"
    lines: list[str] = []
    result = rate_distortion_study(tiny_settings(tiny_dataset, out), spc="1,2", bits="2,4", include_full=True,
                                   progress=lines.append)
    return result, out, lines


def test_rate_distortion_writes_csv_json_png_and_distilled_files(rd_study):
    result, out, lines = rd_study
    for name in ("rate_distortion.csv", "sweet_spots.csv", "rate_distortion.png", "rate_distortion.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "rate_distortion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(out / "rate_distortion.csv")
    assert [r["name"] for r in rows] == ["spc1-b2", "spc1-b4", "spc2-b2", "spc2-b4", "full-f32", "full-ptq8"]
    assert len(list((out / "points").glob("*.json"))) == 6
    assert len(list((out / "points").glob("*.h5"))) == 5  # the float32 full set is the data file itself
    assert result.computed == 6 and result.cached == 0
    assert sum("running" in ln for ln in lines) == 6
    for r in rows:
        assert 0.0 <= float(r["top1_mean"]) <= 1.0
        if r["kind"] == "distilled":
            assert r["command"].startswith("beamsim distill ") and " && beamsim evaluate " in r["command"]
            assert Path(r["train_file"]).exists()
    full = {r["name"]: r for r in rows if r["kind"] == "full"}
    n = int(full["full-f32"]["num_samples"])
    assert int(full["full-f32"]["payload_bits"]) == n * 64 * 32 and float(full["full-f32"]["compression_ratio"]) == 1
    assert int(full["full-ptq8"]["num_samples"]) == n and int(full["full-ptq8"]["payload_bits"]) == n * 64 * 8
    assert full["full-f32"]["command"].startswith("beamsim evaluate ")


def test_rate_distortion_figure_data_has_one_curve_per_spc_and_the_reference_lines(rd_study):
    result, out, _ = rd_study
    doc = json.loads((out / "rate_distortion.json").read_text())
    fig = doc["figures"]["rate_distortion"]
    assert fig["xscale"] == "log" and fig["png"].endswith("rate_distortion.png")
    rows = {r["name"]: r for r in doc["tables"]["rate_distortion"]}
    assert [s["label"] for s in fig["series"]] == ["spc 1", "spc 2"]
    for series, spc in zip(fig["series"], (1, 2)):
        assert series["bits"] == [2, 4]
        for b, x, y in zip(series["bits"], series["x"], series["y"]):
            row = rows[f"spc{spc}-b{b}"]
            assert x == row["payload_bits"] == row["num_samples"] * 64 * b
            assert y == pytest.approx(100 * row["top1_mean"])
    assert [ref["bits"] for ref in fig["references"]] == [32, 8]
    assert fig["references"][0]["y"] == pytest.approx(100 * rows["full-f32"]["top1_mean"])


def test_rate_distortion_sweet_spot_table_matches_the_rule(rd_study):
    result, out, _ = rd_study
    grid = [r for r in result.tables["rate_distortion"] if r["kind"] == "distilled"]
    spots = read_csv(out / "sweet_spots.csv")
    assert [int(s["budget_bits"]) for s in spots] == sorted({r["payload_bits"] for r in grid})
    for spot in spots:
        fits = [r for r in grid if r["payload_bits"] <= int(spot["budget_bits"])]
        assert float(spot["top1_mean"]) == pytest.approx(max(r["top1_mean"] for r in fits))
    marked = {r["name"] for r in result.tables["rate_distortion"] if r["sweet_spot"]}
    assert marked == {s["name"] for s in spots}


def test_a_rerun_is_served_from_the_cache_without_distilling_or_training(rd_study, tiny_dataset, monkeypatch):
    _, out, _ = rd_study

    def boom(*args, **kwargs):
        raise AssertionError("a cached point was recomputed")

    monkeypatch.setattr(QuADD, "fit", boom)
    monkeypatch.setattr(evaluation, "evaluate", boom)
    lines: list[str] = []
    again = rate_distortion_study(tiny_settings(tiny_dataset, out), spc="1,2", bits="2,4", include_full=True,
                                  progress=lines.append)
    assert again.cached == 6 and again.computed == 0
    assert len(lines) == 6 and all(": cached" in ln for ln in lines)
    assert (out / "rate_distortion.png").exists()


def test_other_evaluation_settings_make_new_points_but_reuse_distilled_files(rd_study, tiny_dataset, monkeypatch):
    _, out, _ = rd_study
    monkeypatch.setattr(QuADD, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("distilled again")))
    settings = dataclasses.replace(tiny_settings(tiny_dataset, out), epochs=1)
    result = rate_distortion_study(settings, spc="1", bits="2", progress=None)
    assert result.computed == 1
    assert result.points[0]["reused_file"] is True and result.points[0]["evaluation"]["epochs"] == 1


def test_a_recorded_distill_command_writes_the_same_bytes(rd_study, tmp_path, monkeypatch):
    result, _, _ = rd_study
    monkeypatch.chdir(tmp_path)  # the replay writes here, beside nothing of the study's
    points = {p["name"]: p for p in result.points}
    for name in ("spc1-b2", "full-ptq8"):  # a QuADD run and the quantized full split
        point = points[name]
        assert replay_distill(point["command"], f"{name}.h5") == Path(point["train_file"]).read_bytes(), name


def test_a_crash_after_distilling_resumes_with_the_evaluation(tiny_dataset, tmp_path, monkeypatch):
    out = tmp_path / "crash"
    real_evaluate = evaluation.evaluate

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(evaluation, "evaluate", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        rate_distortion_study(tiny_settings(tiny_dataset, out), spc="1", bits="3")
    assert len(list((out / "points").glob("*.h5"))) == 1 and not list((out / "points").glob("*.json"))
    monkeypatch.setattr(evaluation, "evaluate", real_evaluate)
    fits = []
    original_fit = QuADD.fit
    monkeypatch.setattr(QuADD, "fit", lambda self, *a, **k: fits.append(1) or original_fit(self, *a, **k))
    result = rate_distortion_study(tiny_settings(tiny_dataset, out), spc="1", bits="3")
    assert fits == [] and result.computed == 1 and result.points[0]["reused_file"] is True


def test_a_checkpoint_of_other_settings_is_deleted_and_the_point_distilled_afresh(tiny_dataset, tmp_path):
    settings = tiny_settings(tiny_dataset, tmp_path / "restart")
    ctx = StudyContext(settings)
    source = DistillSource(spc=1, bits=2, quantizer="apot")
    out, _ = source.paths(ctx)
    checkpoint = out.with_name(out.name + ".ckpt.pt")
    other = settings.distill_config(spc=1, bits=3, quantizer="apot")
    QuADD(other, device="cpu", seed=settings.seed, cache_dir=settings.cache_dir, checkpoint_path=checkpoint).fit(ctx.train)
    assert checkpoint.exists()
    lines: list[str] = []
    result = rate_distortion_study(settings, spc="1", bits="2", progress=lines.append)
    assert result.computed == 1 and out.exists() and not checkpoint.exists()
    assert any(line.startswith(f"  deleted {checkpoint}: written with other settings") for line in lines), lines
    assert replay_distill(result.points[0]["command"], str(tmp_path / "fresh.h5")) == out.read_bytes()


# --------------------------------------------------------------------------- imbalance
def test_imbalance_plots_top1_and_macro_f1_for_both_variants(tiny_dataset, tmp_path):
    out = tmp_path / "imb"
    result = imbalance_study(tiny_settings(tiny_dataset, out), spc=2, bits="2,4")
    for name in ("imbalance.csv", "imbalance_classes.csv", "imbalance.png", "imbalance.json"):
        assert (out / name).exists(), name
    rows = {(r["bits"], r["replacement"]): r for r in result.tables["imbalance"]}
    assert set(rows) == {(2, True), (2, False), (4, True), (4, False)}
    # the data set has classes with fewer than 2 training samples: with replacement, every
    # present class gets 2 rows; without, the short classes keep what they have
    counts = torch.bincount(BeamDataset(tiny_dataset, "train").labels, minlength=64)
    assert rows[(2, True)]["num_samples"] == 2 * int((counts > 0).sum())
    assert rows[(2, False)]["num_samples"] == int(counts.clamp(max=2).sum())
    doc = json.loads((out / "imbalance.json").read_text())
    panels = doc["figures"]["imbalance"]["panels"]
    assert [p["series"][0]["kpi"] for p in panels] == ["top1", "macro_f1"]
    for panel in panels:
        kpi = panel["series"][0]["kpi"]
        assert [s["label"] for s in panel["series"]] == ["with replacement", "without replacement"]
        for series, repl in zip(panel["series"], (True, False)):
            assert series["x"] == [2, 4]
            assert series["y"] == pytest.approx([100 * rows[(b, repl)][f"{kpi}_mean"] for b in (2, 4)])
    shortage = doc["report"]["shortage"]
    assert shortage["classes_short"] == int((counts < 2).sum())
    assert shortage["missing_samples"] == int((2 - counts).clamp(min=0).sum())
    assert len(read_csv(out / "imbalance_classes.csv")) == shortage["classes_short_after_holdout"]


# --------------------------------------------------------------------------- baselines
def test_baseline_registry_lists_the_papers_rows_in_order():
    names = [m.name for m in baseline_methods()]
    assert names == ["full-f32", "full-ptq8", "random", "herding", "kcenter", "distill", "distill-ptq",
                     "distill-patch", "quadd-apot", "quadd-uniform", "quadd-fsq", "fred", "qfred", "autopalette"]
    with pytest.raises(ValueError, match="already registered"):
        register_method("random", "again")(lambda opts: RealSource())


def test_baselines_table_figure_and_ptq_reuse(tiny_dataset, tmp_path, monkeypatch):
    out = tmp_path / "base"
    fits = []
    original_fit = QuADD.fit
    monkeypatch.setattr(QuADD, "fit", lambda self, *a, **k: fits.append(self.config.quantizer.name)
                        or original_fit(self, *a, **k))
    methods = "full-f32,distill,distill-ptq,quadd-apot"
    result = baselines_study(tiny_settings(tiny_dataset, out), spc=2, bits=4, methods=methods)
    assert fits == ["none", "apot"]  # the float distillation (once, for two rows), QuADD
    rows = {r["method"]: r for r in read_csv(out / "baselines.csv")}
    assert list(rows) == methods.split(",")
    assert float(rows["full-f32"]["compression_ratio"]) == 1.0
    for name in ("distill", "quadd-apot"):
        assert float(rows[name]["compression_ratio"]) == pytest.approx(
            int(rows["full-f32"]["payload_bits"]) / int(rows[name]["payload_bits"]))
    assert int(rows["distill-ptq"]["payload_bits"]) * 8 == int(rows["distill"]["payload_bits"])
    assert "--quantizer ptq --init herding --allocation proportional --no-replacement" in rows["distill-ptq"]["command"]
    fig = json.loads((out / "baselines.json").read_text())["figures"]["baselines"]
    assert fig["kind"] == "bars_line" and fig["bars"]["scale"] == "log"
    assert fig["methods"] == methods.split(",")
    assert fig["bars"]["values"] == pytest.approx([float(rows[m]["compression_ratio"]) for m in fig["methods"]])
    assert fig["line"]["values"] == pytest.approx([100 * float(rows[m]["top1_mean"]) for m in fig["methods"]])
    assert (out / "baselines.png").exists()
    # the PTQ row's file is what `beamsim distill --quantizer ptq` writes with the same settings
    ptq = read(result.points[2]["train_file"])
    settings = tiny_settings(tiny_dataset, out)
    direct = QuADD(settings.distill_config(spc=2, quantizer="ptq", bits=4), device="cpu", seed=settings.seed)
    direct.fit(BeamDataset(tiny_dataset, "train", encoding="attenuation"))
    assert torch.equal(ptq.x, direct.synthetic_.cpu()[torch.argsort(direct.labels_.cpu(), stable=True)])
    # and byte for byte: its recorded command replayed
    monkeypatch.chdir(tmp_path)
    replayed = replay_distill(rows["distill-ptq"]["command"], "replayed.h5")
    assert replayed == Path(result.points[2]["train_file"]).read_bytes()


def test_the_patch_row_compresses_the_float_distillation_within_quadds_stored_bytes(tiny_dataset, tmp_path,
                                                                                      monkeypatch):
    out = tmp_path / "patch"
    fits = []
    original_fit = QuADD.fit
    monkeypatch.setattr(QuADD, "fit", lambda self, *a, **k: fits.append(self.config.quantizer.name)
                        or original_fit(self, *a, **k))
    result = baselines_study(tiny_settings(tiny_dataset, out), spc=2, bits=4, methods="distill,distill-patch")
    assert fits == ["none"]  # one float distillation feeds both rows
    base, patch = result.points
    d = describe(base["train_file"])
    budget = -(-d["num_samples"] * (d["elements_per_sample"] - d["constant_elements"]) * 4 // 8)
    c = describe(patch["train_file"])
    assert c["codec"] in ("paq", "gaq") and c["bits"] == 4 and c["budget_bytes"] == budget
    assert 0 < c["bytes"]["payload"] <= budget
    row = result.tables["baselines"][1]
    assert row["payload_bits"] == 8 * c["bytes"]["payload"] and row["label"] == "TM + patch GAQ 4 bits, QuADD 4-bit bytes"
    assert row["num_samples"] == c["num_samples"] > 0
    # the recorded command writes the same bytes
    compress = patch["command"].split(" && ")[1]
    assert compress.startswith("beamsim compress ") and f"--budget-bytes {budget}" in compress
    again = tmp_path / "again.h5"
    args = shlex.split(compress)[2:]
    args[args.index("--out") + 1] = str(again)
    r = CliRunner().invoke(app, ["compress", *args, "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    assert again.read_bytes() == Path(patch["train_file"]).read_bytes()


def test_the_parameterized_rows_fit_quadds_payload_and_replay_byte_for_byte(tiny_dataset, tmp_path, monkeypatch):
    out = tmp_path / "param"
    result = baselines_study(tiny_settings(tiny_dataset, out), spc=2, bits=4, methods="quadd-apot,fred,qfred,autopalette")
    rows = {r["method"]: r for r in read_csv(out / "baselines.csv")}
    quadd = describe(result.points[0]["train_file"])
    per_sample = (quadd["elements_per_sample"] - quadd["constant_elements"]) * 4
    for name, point in zip(("fred", "qfred", "autopalette"), result.points[1:]):
        d = describe(point["train_file"])
        assert d["num_samples"] == quadd["num_samples"]  # the same samples per class
        assert 0 < d["payload_bits_stored"] <= d["num_samples"] * per_sample, name
        assert int(rows[name]["file_bytes"]) == d["file_bytes"]
    assert describe(result.points[1]["train_file"])["param"] == "fred"
    assert describe(result.points[3]["train_file"])["param"] == "palette"
    monkeypatch.chdir(tmp_path)
    for i, name in ((2, "qfred"), (3, "autopalette")):
        assert f"--param {'fred' if name == 'qfred' else 'palette'}" in rows[name]["command"]
        assert replay_distill(rows[name]["command"], f"{name}.h5") == Path(result.points[i]["train_file"]).read_bytes()


def test_a_new_method_is_a_few_lines(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(baselines_mod, "_METHODS", dict(baselines_mod._METHODS))

    @register_method("tiny-coreset", "one real sample per class ({bits} bits asked)", group="coreset")
    def _tiny(opts):
        return DistillSource(objective="none", quantizer="none", spc=1)

    result = baselines_study(tiny_settings(tiny_dataset, tmp_path / "new"), spc=2, bits=4, methods="tiny-coreset")
    row = result.tables["baselines"][0]
    assert row["method"] == "tiny-coreset" and row["label"] == "one real sample per class (4 bits asked)"


class EveryOtherSample(TrainingSource):
    """A new kind of training set, defined outside the package: a random coreset drawn from
    every other sample of the training split (what a study method adds: settings, make)."""

    kind = "every-other"

    def __init__(self, spc: int) -> None:
        self.spc = spc

    def settings(self, ctx):
        return {"kind": self.kind, "spc": self.spc, "seed": ctx.settings.seed}

    def make(self, ctx):
        from beamsim.distill import distill_file

        out = ctx.points_dir / f"{ctx.file_stem(self.slug(ctx), self.settings(ctx))}.h5"
        if out.exists():
            return Made(train=out, info=distilled_info(ctx, out), command="", reused=True)
        half = (ctx.train.inputs[::2], ctx.train.labels[::2])
        cfg = ctx.settings.distill_config(objective="none", quantizer="none", spc=self.spc)
        run = distill_file(half, out, cfg, seed=ctx.settings.seed, device=ctx.device, provenance=ctx.provenance)
        return Made(train=out, info=distilled_info(ctx, out, run.described), command="",
                    seconds={"distill_s": run.seconds})


def test_a_new_training_source_runs_through_the_runner(tiny_dataset, tmp_path, monkeypatch):
    settings = tiny_settings(tiny_dataset, tmp_path / "new-source")
    ctx = StudyContext(settings)
    point = Point("every-other", "every other sample, spc 2", EveryOtherSample(spc=2), {"spc": 2})
    (record,) = run_points(ctx, [point])
    assert record["cached"] is False and Path(record["train_file"]).exists()
    assert record["source"] == {"kind": "every-other", "spc": 2, "seed": 3}
    assert 0 < record["info"]["num_samples"] <= 2 * ctx.num_classes
    assert record["command"].startswith("beamsim evaluate --train ")  # the source records no command of its own
    assert 0.0 <= record["evaluation"]["top1"]["mean"] <= 1.0
    assert point.record_path(ctx).exists()
    # a rerun loads the record; another spc is another point and another file
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: pytest.fail("a cached point was evaluated again"))
    (again,) = run_points(StudyContext(settings), [point])
    assert again["cached"] is True and again["evaluation"] == record["evaluation"]
    other = Point("every-other", "spc 1", EveryOtherSample(spc=1))
    assert other.key(ctx) != point.key(ctx) and other.record_path(ctx) != point.record_path(ctx)


def test_unknown_methods_are_refused_before_any_work(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        baselines_study(tiny_settings(tiny_dataset, tmp_path / "x"), methods="random,zip")
    assert not (tmp_path / "x").exists()


def test_studies_sharing_a_folder_reuse_points_with_their_own_columns(rd_study, tiny_dataset):
    # the baselines study reuses rate-distortion's full-data points but labels them its own way
    _, out, _ = rd_study
    result = baselines_study(tiny_settings(tiny_dataset, out), spc=2, bits=4, methods="full-f32,full-ptq8")
    assert result.cached == 2 and result.computed == 0
    rows = {r["method"]: r for r in read_csv(out / "baselines.csv")}
    assert list(rows) == ["full-f32", "full-ptq8"] and all(r["label"] for r in rows.values())

"""distill_file: the one library call from training data to a distilled file (CLI and studies)."""

from __future__ import annotations

import csv
import doctest
import importlib

import pytest

from beamsim.distill import describe, distill_file
from beamsim.distill.naming import checkpoint_path
from beamsim.distill.provenance import Provenance
from beamsim.distill.quadd import CheckpointMismatchError, QuADD
from tests.distill.test_quadd import Toy, tiny_config

PROVENANCE = Provenance(source_sha256="abc", source_path="toy.h5", source_samples=27, encoding="attenuation")


def by_hand(cfg, path, seed=3):
    """What the CLI and the studies each wrote before distill_file: fit, then save."""
    q = QuADD(cfg, seed=seed, device="cpu").fit(Toy())
    q.save(path, provenance=Provenance(source_sha256="abc", source_path="toy.h5", source_samples=27, encoding="attenuation"))
    return path.read_bytes()


def interrupted(cfg, out, at=3):
    """A run of ``cfg`` stopped after iteration ``at`` (its last checkpoint stays beside ``out``)."""

    def stop(done, total, info):
        if done == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill_file(Toy(), out, cfg, seed=3, device="cpu", provenance=PROVENANCE, progress=stop)
    assert checkpoint_path(out).exists() and not out.exists()


def test_writes_the_set_its_history_and_removes_the_checkpoint(tmp_path):
    cfg = tiny_config(iterations=3, checkpoint_every=1)
    out, history = tmp_path / "sets" / "toy.h5", tmp_path / "logs" / "toy.csv"
    calls = []
    run = distill_file(Toy(), out, cfg, seed=3, device="cpu", provenance=PROVENANCE, history=history,
                       progress=lambda done, total, info: calls.append((done, total)))
    assert run.path == out and not checkpoint_path(out).exists() and run.resumed is False and run.seconds > 0
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]  # once when the work starts, then per iteration
    assert run.described == describe(out)
    assert (run.described["source_sha256"], run.described["source_samples"]) == ("abc", 27)
    with open(history, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    assert [float(r["loss"]) for r in rows] == pytest.approx([h["loss"] for h in run.quadd.history_])
    # the same bytes as fitting and saving by hand
    assert out.read_bytes() == by_hand(cfg, tmp_path / "by-hand.h5")


def test_resume_continues_the_checkpoint_and_writes_the_same_bytes(tmp_path):
    cfg = tiny_config(iterations=4, checkpoint_every=2)
    out = tmp_path / "toy.h5"
    interrupted(cfg, out)
    lines: list[str] = []
    run = distill_file(Toy(), out, cfg, seed=3, device="cpu", provenance=PROVENANCE, resume=True, log=lines.append)
    assert run.resumed is True and lines == [f"resuming {checkpoint_path(out)} at iteration 2 of 4"]
    assert not checkpoint_path(out).exists()
    assert out.read_bytes() == by_hand(cfg, tmp_path / "whole.h5")


def test_a_checkpoint_of_other_settings_raises_or_restarts(tmp_path, monkeypatch):
    out = tmp_path / "toy.h5"
    interrupted(tiny_config(iterations=4, checkpoint_every=2), out)
    other = tiny_config(iterations=2, bits=3)
    with pytest.raises(CheckpointMismatchError, match="other settings"):
        distill_file(Toy(), out, other, seed=3, device="cpu", resume=True)
    assert checkpoint_path(out).exists() and not out.exists()
    lines: list[str] = []
    run = distill_file(Toy(), out, other, seed=3, device="cpu", provenance=PROVENANCE, resume=True,
                       on_mismatch="restart", log=lines.append)
    assert run.resumed is False and len(lines) == 1 and lines[0].startswith(f"deleted {checkpoint_path(out)}")
    assert out.read_bytes() == by_hand(other, tmp_path / "fresh.h5")


def test_without_resume_a_checkpoint_is_overwritten_not_read(tmp_path):
    cfg = tiny_config(iterations=4, checkpoint_every=2)
    out = tmp_path / "toy.h5"
    interrupted(cfg, out)
    run = distill_file(Toy(), out, tiny_config(iterations=2, bits=3), seed=3, device="cpu")
    assert run.resumed is False and out.exists() and not checkpoint_path(out).exists()


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(QuADD, "fit", lambda *a, **k: pytest.fail("fit ran before the checks"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        distill_file(Toy(), tmp_path / "folder", tiny_config(), device="cpu")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        distill_file(Toy(), tmp_path / "x.h5", tiny_config(), device="cpu", history=tmp_path / "folder")
    with pytest.raises(ValueError, match="on_mismatch"):
        distill_file(Toy(), tmp_path / "x.h5", tiny_config(), device="cpu",
                     on_mismatch="ignore")  # type: ignore[arg-type]
    assert not (tmp_path / "x.h5").exists()


def test_naming_doctests():
    result = doctest.testmod(importlib.import_module("beamsim.distill.naming"))
    assert result.attempted > 0 and result.failed == 0

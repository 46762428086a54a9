"""Stopping on a validation plateau: the pure rule, a run that stops early, the same stop with
the same seed, and a resumed run that stops where the uninterrupted one did, byte for byte."""

import pytest
import torch

from beamsim.distill.quadd import QuADD
from beamsim.distill.validation import plateaued
from tests.distill.test_quadd import Toy, tiny_config


@pytest.mark.parametrize("scores, patience, stop", [
    ([0.5, 0.6, 0.6], 1, True),         # a tie is no gain
    ([0.5, 0.6, 0.61], 1, False),
    ([0.5, 0.6, 0.55, 0.58], 2, True),
    ([0.5, 0.6, 0.55, 0.65], 2, False),
    ([0.6, 0.5], 2, False),             # too few scores to judge
    ([0.9, 0.1, 0.1, 0.1], 0, False),   # patience 0: never
])
def test_the_rule(scores, patience, stop):
    assert plateaued(scores, patience) is stop


def plateau_config(**kw):
    return tiny_config(**{"iterations": 12, "val_fraction": 0.25, "val_every": 1, "val_patience": 1,
                          "checkpoint_every": 5, **kw})


def test_a_run_stops_on_its_first_plateau_and_keeps_the_best():
    q = QuADD(plateau_config(), seed=3, device="cpu").fit(Toy())
    scores = [a for _, a in q.validation_]
    assert q.iterations_run_ < 12 and len(q.history_) == q.iterations_run_
    assert q.validation_[-1][0] == q.iterations_run_
    # it stopped at the first plateau, not before
    assert plateaued(scores, 1) and not any(plateaued(scores[:k], 1) for k in range(1, len(scores)))
    assert q.best_iteration_ == q.validation_[scores.index(max(scores))][0]
    again = QuADD(plateau_config(), seed=3, device="cpu").fit(Toy())
    assert again.iterations_run_ == q.iterations_run_ and torch.equal(again.synthetic_, q.synthetic_)


def test_without_patience_every_iteration_runs():
    q = QuADD(plateau_config().replace(val_patience=0), seed=3, device="cpu").fit(Toy())
    assert q.iterations_run_ == 12 and len(q.validation_) == 12


def test_a_resumed_run_stops_where_the_uninterrupted_one_did(tmp_path):
    cfg = plateau_config()
    whole = QuADD(cfg, seed=3, device="cpu").fit(Toy())
    assert whole.iterations_run_ >= 2, "the test needs a stop after the first checkpointed iteration"
    stop_at = whole.iterations_run_
    ckpt = tmp_path / "run.ckpt.pt"

    def interrupt(done, total, info):
        if done == stop_at - 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # checkpoint every iteration so the interrupted run leaves one
        QuADD(cfg.replace(checkpoint_every=1), seed=3, device="cpu", checkpoint_path=ckpt,
              progress=interrupt).fit(Toy())
    resumed = QuADD(cfg.replace(checkpoint_every=1), seed=3, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert resumed.iterations_run_ == stop_at
    assert torch.equal(whole.synthetic_, resumed.synthetic_) and whole.best_iteration_ == resumed.best_iteration_
    # the checkpoint written at the stop resumes to the same set without another iteration
    after = QuADD(cfg.replace(checkpoint_every=1), seed=3, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert after.iterations_run_ == stop_at and len(after.history_) == stop_at
    assert torch.equal(after.synthetic_, whole.synthetic_)


def test_the_stop_is_written_to_the_checkpoint_even_off_the_checkpoint_interval(tmp_path):
    cfg = plateau_config(checkpoint_every=100)  # only the stop (or the end) writes a checkpoint
    ckpt = tmp_path / "run.ckpt.pt"
    q = QuADD(cfg, seed=3, device="cpu", checkpoint_path=ckpt).fit(Toy())
    assert int(torch.load(ckpt, weights_only=True)["iteration"]) == q.iterations_run_


def test_a_negative_patience_is_refused():
    with pytest.raises(ValueError, match="val_patience must be >= 0"):
        tiny_config(val_patience=-1)

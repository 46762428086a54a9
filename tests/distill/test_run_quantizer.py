"""The run's quantizer: settings taken from what its config class declares, in the loop or after it."""

import doctest

import pytest
import torch

import beamsim.distill.run_quantizer as run_quantizer
from beamsim.distill.quant import APoTConfig, FSQConfig, PostTrainingQuantizer
from beamsim.distill.run_quantizer import (MIN_ALPHA, clamp_thresholds, final_quantizer, loop_quantizer,
                                           threshold_optimizer, threshold_stats, thresholds)
from tests.distill.test_quadd import tiny_config

CPU = torch.device("cpu")


def x_init():
    return torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))


def test_doctests():
    result = doctest.testmod(run_quantizer)
    assert result.attempted > 0 and result.failed == 0


def test_the_loop_quantizer_gets_the_fields_its_config_class_has():
    apot = loop_quantizer(tiny_config(quantizer="apot", bits=3, granularity="tensor", percentile=90.0), x_init(),
                          seed=0, device=CPU)
    assert apot.config == APoTConfig(bits=3, granularity="tensor", percentile=90.0, normalize=False)
    fsq = loop_quantizer(tiny_config(quantizer="fsq", bits=3, granularity="tensor"), x_init(), seed=0, device=CPU)
    assert fsq.config == FSQConfig(bits=3) and isinstance(fsq.generator, torch.Generator)
    for name, bits in (("ptq", 4), ("none", 32)):
        assert loop_quantizer(tiny_config(quantizer=name, bits=bits), x_init(), seed=0, device=CPU) is None


def test_the_same_seed_gives_the_same_noise():
    cfg = tiny_config(quantizer="fsq", bits=3)
    a, b = (loop_quantizer(cfg, x_init(), seed=4, device=CPU) for _ in range(2))
    assert torch.equal(a(x_init()), b(x_init()))  # the noise step draws from the quantizer's own generator


def test_post_training_keeps_its_own_defaults():
    raw = x_init()
    q = final_quantizer(tiny_config(quantizer="ptq", bits=4, granularity="feature"), raw, device=CPU)
    assert isinstance(q, PostTrainingQuantizer) and q.bits == 4 and q.config.granularity == "tensor"
    assert q.initialized
    assert final_quantizer(tiny_config(quantizer="apot"), raw, device=CPU) is None
    assert final_quantizer(tiny_config(quantizer="none", bits=32), raw, device=CPU) is None


def test_thresholds_learn_stay_positive_and_are_logged():
    q = loop_quantizer(tiny_config(quantizer="uniform", bits=3), x_init(), seed=0, device=CPU)
    start = thresholds(q)
    assert threshold_optimizer(q, 0.0) is None and threshold_optimizer(None, 0.1) is None
    opt = threshold_optimizer(q, 10.0)
    q(x_init()).sum().backward()
    opt.step()
    clamp_thresholds(opt)
    assert bool((q.alpha.detach() >= torch.tensor(MIN_ALPHA)).all())  # Adam at lr 10 pushed some below
    stats = threshold_stats(q, start)
    assert set(stats) == {"alpha_mean", "alpha_min", "alpha_max", "alpha_moved"} and stats["alpha_moved"] > 0
    assert threshold_stats(None, None) == {} and thresholds(None) is None


@pytest.mark.parametrize("name", ["apot", "uniform", "fsq"])
def test_every_in_loop_quantizer_builds(name):
    q = loop_quantizer(tiny_config(quantizer=name, bits=4), x_init(), seed=0, device=CPU)
    assert q.name == name and q(x_init()).shape == x_init().shape

from fractions import Fraction as F

import pytest
import torch

from beamsim.distill.quant import APoTConfig, APoTQuantizer, apot_exponents, apot_levels, build_quantizer

DESIGN_LEVELS = {
    2: [F(0), F(1, 4), F(1, 2), F(1)],
    3: [F(0), F(1, 10), F(2, 10), F(3, 10), F(4, 10), F(6, 10), F(8, 10), F(1)],
    4: [F(0), F(1, 48), F(1, 24), F(1, 16), F(1, 12), F(1, 8), F(1, 6), F(3, 16), F(1, 4), F(1, 3), F(3, 8),
        F(1, 2), F(2, 3), F(11, 16), F(3, 4), F(1)],
}


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_design_level_sets_exact(bits):
    want = torch.tensor([float(v) for v in DESIGN_LEVELS[bits]], dtype=torch.float32)
    assert torch.equal(apot_levels(bits), want)


@pytest.mark.parametrize("bits", range(1, 9))
def test_distinct_levels_sorted_normalized(bits):
    levels = apot_levels(bits)
    assert levels.dtype == torch.float32
    assert levels.numel() == 2 ** bits
    assert torch.unique(levels).numel() == 2 ** bits
    assert torch.all(levels[1:] > levels[:-1])
    assert levels[0] == 0 and levels[-1] == 1


@pytest.mark.parametrize("bits", range(2, 9))
def test_signed_levels(bits):
    levels = apot_levels(bits, signed=True)
    assert levels.numel() == 2 ** bits - 1
    assert torch.all(levels[1:] > levels[:-1])
    assert torch.equal(levels, -levels.flip(0))
    assert torch.equal(levels[levels >= 0], apot_levels(bits - 1))


def test_construction_even_bits_follow_paper_rule():
    # even b: n = b / 2 terms, term i has exponents i + j n + 1, j = 0, 1, 2
    for bits in (2, 4, 6, 8):
        n = bits // 2
        assert apot_exponents(bits) == [[i + j * n + 1 for j in range(3)] for i in range(n)]
    assert apot_exponents(1) == [[1]]
    assert apot_exponents(5) == [[1, 3, 6], [2, 4, 7], [5]]


def test_six_bit_top_gap_is_an_eighth():
    levels = apot_levels(6)
    assert float(levels[-1] - levels[-2]) == pytest.approx(1 / 8)


@pytest.mark.parametrize("bad", [0, 9, 2.0, True])
def test_bad_bits(bad):
    with pytest.raises(ValueError, match="bits"):
        apot_levels(bad)


def test_signed_one_bit_rejected():
    with pytest.raises(ValueError, match="bits >= 2"):
        apot_levels(1, signed=True)
    with pytest.raises(ValueError, match="bits >= 2"):
        APoTConfig(bits=1, signed=True)


def test_forward_projects_to_nearest_level(generator):
    q = APoTQuantizer(bits=3, granularity="tensor", signed=False)
    q.initialize(torch.ones(4, 1))  # alpha = 1
    x = torch.rand(1000, 1, generator=generator) * 1.2 - 0.1
    out = q(x)
    levels = apot_levels(3)
    nearest = levels[(x.clamp(0, 1) - levels).abs().argmin(dim=1)].view(-1, 1)
    assert torch.allclose(out, nearest)


def test_alpha_shapes_by_granularity(generator):
    x = torch.rand(20, 3, 4, 5, generator=generator)
    assert APoTQuantizer(bits=4).initialize(x).alpha.shape == (3, 4, 5)
    assert APoTQuantizer(bits=4, granularity="channel").initialize(x).alpha.shape == (3, 1, 1)
    assert APoTQuantizer(bits=4, granularity="tensor").initialize(x).alpha.shape == (1, 1, 1)


def test_alpha_initialized_from_percentile(generator):
    x = torch.rand(2001, 1, 8, 8, generator=generator)
    q = APoTQuantizer(bits=6, percentile=99.5).initialize(x)
    want = torch.quantile(x.abs().reshape(2001, 64), 0.995, dim=0).view(1, 8, 8)
    assert torch.allclose(q.alpha.detach(), want)
    assert q.num_thresholds == 64
    q50 = APoTQuantizer(bits=6, percentile=50.0).initialize(x)
    assert torch.allclose(q50.alpha.detach(), x.median(dim=0).values, atol=1e-3)


def test_all_zero_feature_gets_positive_alpha(checkerboard):
    x = torch.where(checkerboard, torch.full((10, 1, 8, 8), 0.5), torch.zeros(()))
    q = APoTQuantizer(bits=4).initialize(x)
    assert bool((q.alpha > 0).all())
    assert torch.equal(q(x), x)  # 0.5 and 0 are levels at alpha = 0.5 / 1


def test_signed_chosen_from_data(generator):
    pos = torch.rand(50, 1, 2, 2, generator=generator)
    assert APoTQuantizer(bits=4).initialize(pos).signed is False
    mixed = pos - 0.5
    q = APoTQuantizer(bits=4).initialize(mixed)
    assert q.signed is True and q.num_levels == 15
    assert APoTQuantizer(bits=4, signed=True).initialize(pos).signed is True


def test_gradients_reach_x_and_alpha(generator):
    x = (torch.rand(64, 1, 8, 8, generator=generator) * 1.4 - 0.2).requires_grad_(True)
    q = APoTQuantizer(bits=4, signed=False)
    q.initialize(torch.ones(1, 1, 8, 8))
    w = torch.rand(x.shape, generator=generator)
    (q(x) * w).sum().backward()
    inside = (x.detach() >= 0) & (x.detach() <= 1)
    assert torch.allclose(x.grad[inside], w[inside])  # straight through inside the range
    assert torch.all(x.grad[~inside] == 0)  # zero outside
    assert q.alpha.grad is not None and q.alpha.grad.shape == (1, 8, 8)
    assert bool((q.alpha.grad != 0).any())


@pytest.mark.parametrize("signed", [False, True])
def test_alpha_gradient_matches_reparameterized_clipping(signed, generator):
    x = torch.tensor([-1.7, -0.6, -0.2, 0.03, 0.21, 0.44, 0.58, 0.9, 1.3, 2.2])
    alpha0 = 1.1
    q = APoTQuantizer(bits=4, granularity="tensor", signed=signed, learn_alpha=True)
    q.initialize(torch.full((2, 1), alpha0))
    w = torch.rand(10, generator=generator) + 0.5
    out = q(x.view(-1, 1)).view(-1)
    (out * w).sum().backward()
    got = float(q.alpha.grad)

    lo = -1.0 if signed else 0.0
    xn = (x / alpha0).clamp(lo, 1.0)
    level = out.detach() / alpha0
    # closed form: level - x/alpha inside the range, sign(x) where clipped at +-alpha
    # (0 where unsigned data is clipped at 0: the output there does not depend on alpha)
    inside = (x / alpha0 >= lo) & (x / alpha0 <= 1.0)
    clipped = torch.where(x > 0, torch.ones_like(x), -torch.ones_like(x) if signed else torch.zeros_like(x))
    closed = torch.where(inside, level - x / alpha0, clipped)
    assert got == pytest.approx(float((w * closed).sum()), rel=1e-5)

    # numerical: central difference of the straight-through surrogate (the rounding
    # residual level - x/alpha is frozen at alpha0, the clip moves with alpha)
    residual = (level - xn).double()

    def surrogate(a: float) -> float:
        xd = x.double()
        return float((w.double() * (a * (xd / a).clamp(lo, 1.0) + a * residual)).sum())

    h = 1e-6
    numeric = (surrogate(alpha0 + h) - surrogate(alpha0 - h)) / (2 * h)
    assert got == pytest.approx(numeric, rel=1e-4)


@pytest.mark.parametrize("bits", range(1, 9))
def test_encode_decode_round_trip_equals_forward(bits, beam_set):
    x, _ = beam_set
    q = APoTQuantizer(bits=bits).initialize(x)
    codes = q.encode(x)
    assert codes.dtype == torch.int64 and codes.shape == x.shape
    assert int(codes.min()) >= 0 and int(codes.max()) < 2 ** bits
    assert torch.equal(q.decode(codes), q(x))
    assert torch.equal(q.encode(q.decode(codes)), codes)  # decoded values are fixed points


def test_signed_round_trip(generator):
    x = torch.randn(300, 2, 4, 4, generator=generator)
    q = APoTQuantizer(bits=5, granularity="channel").initialize(x)
    codes = q.encode(x)
    assert int(codes.max()) < 31
    assert torch.equal(q.decode(codes), q(x))


def test_normalize_option_round_trip(generator):
    x = torch.rand(100, 3, 4, 4, generator=generator) * torch.tensor([1.0, 5.0, 20.0]).view(1, 3, 1, 1) + 3.0
    q = APoTQuantizer(bits=6, normalize=True, granularity="channel").initialize(x)
    assert q.norm_mean.shape == (3, 1, 1)
    out = q(x)
    assert torch.equal(q.decode(q.encode(x)), out)
    rel_err = ((out - x).abs().mean(dim=(0, 2, 3)) / x.std(dim=(0, 2, 3)))
    assert bool((rel_err < 0.2).all())


def test_reinitialize_keeps_parameter(generator):
    x = torch.rand(10, 1, 8, 8, generator=generator)
    q = APoTQuantizer(bits=4).initialize(x)
    param = q.alpha
    q.initialize(x * 2)
    assert q.alpha is param
    assert torch.allclose(param.detach(), APoTQuantizer(bits=4).initialize(x * 2).alpha.detach())


def test_forward_initializes_lazily_and_checks_shape(generator):
    x = torch.rand(10, 1, 8, 8, generator=generator)
    q = build_quantizer("apot", bits=3)
    assert not q.initialized
    q(x)
    assert q.initialized and q.alpha.shape == (1, 8, 8)
    with pytest.raises(ValueError, match="does not fit"):
        q(torch.rand(10, 1, 4, 4))
    with pytest.raises(RuntimeError, match="initialize"):
        APoTQuantizer(bits=3).encode(x)


def test_bits_is_read_only():
    q = APoTQuantizer(bits=3)
    with pytest.raises(AttributeError):
        q.bits = 4


@pytest.mark.parametrize("kwargs, match", [
    ({"bits": 0}, "outside 1..8"), ({"bits": 9}, "outside 1..8"), ({"granularity": "row"}, "granularity"),
    ({"percentile": 0}, "percentile"), ({"percentile": 101}, "percentile"), ({"signed": "yes"}, "signed"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        APoTConfig(**kwargs)


def test_decode_rejects_out_of_range_codes(beam_set):
    x, _ = beam_set
    q = APoTQuantizer(bits=2).initialize(x)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        q.decode(torch.full(x.shape, 4))
    with pytest.raises(TypeError, match="integer"):
        q.decode(x)

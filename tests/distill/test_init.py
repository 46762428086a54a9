import doctest
import importlib
import subprocess
import sys

import pytest
import torch

from beamsim.distill.init import init_methods, initialize
from beamsim.models import get_model

SELECTING = ["real", "herding", "kcenter", "quant-graphcut"]


@pytest.fixture
def toy():
    """Imbalanced: class 0 has 10 samples, class 1 has 3, class 2 none. [13, 1, 8, 8]."""
    g = torch.Generator().manual_seed(11)
    x = torch.rand(13, 1, 8, 8, generator=g)
    y = torch.tensor([1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0])  # classes interleaved on purpose
    return x, y


@pytest.fixture
def model():
    return get_model("beamcnn", 1, 3, 8, generator=torch.Generator().manual_seed(12))


def run(x, y, method, model, spc=5, seed=0, **kw):
    extra = {"model": model} if method != "real" and method != "noise" else {}
    if method == "quant-graphcut":
        extra["bits"] = 4
    return initialize(x, y, 3, spc, method, generator=torch.Generator().manual_seed(seed), device="cpu", **extra, **kw)


def test_known_methods():
    assert init_methods() == ["herding", "kcenter", "noise", "quant-graphcut", "real"]


@pytest.mark.parametrize("method", SELECTING)
@pytest.mark.parametrize("replacement, want", [(True, [5, 5, 0]), (False, [5, 3, 0])])
def test_counts_with_and_without_replacement(toy, model, method, replacement, want):
    x, y = toy
    x_syn, y_syn, counts, source = run(x, y, method, model, replacement=replacement)
    assert counts.dtype == torch.int64 and counts.tolist() == want
    assert y_syn.dtype == torch.int64 and source.dtype == torch.int64
    m = sum(want)
    assert x_syn.shape == (m, 1, 8, 8) and y_syn.shape == (m,) and source.shape == (m,)
    # grouped by class, in class order
    assert y_syn.tolist() == [0] * want[0] + [1] * want[1]
    # every row is a real row, and source_index says which
    assert torch.equal(x_syn, x[source]) and torch.equal(y[source], y_syn)
    # class 0 has 10 >= spc samples: no repeats there
    assert source[:5].unique().numel() == 5
    class1 = source[5:].tolist()
    if replacement:
        assert set(class1) == {0, 3, 8}  # all three, then two repeats
        assert sorted(class1.count(r) for r in (0, 3, 8)) == [1, 2, 2]
    else:
        assert sorted(class1) == [0, 3, 8]


@pytest.mark.parametrize("method", SELECTING + ["noise"])
def test_deterministic_and_global_rng_untouched(toy, model, method):
    x, y = toy
    state = torch.get_rng_state()
    a = run(x, y, method, model, replacement=True, seed=5)
    b = run(x, y, method, model, replacement=True, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_seed_changes_random_draws(toy):
    x, y = toy
    a = run(x, y, "real", None, seed=1)[3]
    b = run(x, y, "real", None, seed=2)[3]
    assert not torch.equal(a, b)


def test_output_is_a_copy(toy):
    x, y = toy
    x_syn = run(x, y, "real", None)[0]
    x_syn += 1.0
    assert float(x.max()) <= 1.0


def test_noise(beam_set):
    x, y = beam_set  # 64 classes x 50, unobserved beams constant at 1.0
    y = y.clone()
    y[y == 5] = 4  # class 5 empty, class 4 has 100 samples
    g = torch.Generator().manual_seed(0)
    x_syn, y_syn, counts, source = initialize(x, y, 64, 400, "noise", generator=g, device="cpu")
    assert counts.tolist() == [400] * 64 and torch.equal(source, torch.full((64 * 400,), -1))
    assert y_syn.tolist() == torch.arange(64).repeat_interleave(400).tolist()
    unobserved = (x[0, 0] == 1.0) & (x == 1.0).all(0)[0]
    assert bool((x_syn[:, 0][:, unobserved] == 1.0).all())  # constant features stay constant
    # per-class statistics (tolerance ~ 5 standard errors of 400 draws of U(0, 1): std 0.29)
    observed = ~unobserved
    for c in (0, 4, 63):
        real, syn = x[y == c][:, 0][:, observed], x_syn[y_syn == c][:, 0][:, observed]
        assert torch.allclose(syn.mean(0), real.mean(0), atol=0.08)
        assert torch.allclose(syn.std(0), real.std(0, unbiased=False), atol=0.06)
    empty = x_syn[y_syn == 5][:, 0][:, observed]
    assert torch.allclose(empty.mean(0), x[:, 0][:, observed].mean(0), atol=0.08)


def test_noise_ignores_replacement(toy):
    x, y = toy
    for replacement in (True, False):
        assert run(x, y, "noise", None, replacement=replacement)[2].tolist() == [5, 5, 5]


def test_model_mode_restored(toy, model):
    x, y = toy
    model.train()
    run(x, y, "herding", model)
    assert all(m.training for m in model.modules())
    model.eval()
    run(x, y, "quant-graphcut", model)
    assert not any(m.training for m in model.modules())


def test_default_generator_is_the_config_seed(toy):
    x, y = toy
    a = initialize(x, y, 3, 2, "real", device="cpu")
    b = initialize(x, y, 3, 2, "real", device="cpu")
    assert torch.equal(a[3], b[3])


@pytest.mark.parametrize("spc", [0, -1, 2.5, True])
def test_bad_spc(toy, spc):
    x, y = toy
    with pytest.raises(ValueError, match="spc"):
        initialize(x, y, 3, spc, "real", device="cpu")


def test_unknown_method_lists_known(toy):
    x, y = toy
    with pytest.raises(ValueError, match="herding, kcenter, noise, quant-graphcut, real"):
        initialize(x, y, 3, 2, "gaussian", device="cpu")


@pytest.mark.parametrize("method", ["herding", "kcenter", "quant-graphcut"])
def test_needs_model(toy, method):
    x, y = toy
    with pytest.raises(ValueError, match="needs model="):
        initialize(x, y, 3, 2, method, bits=4, device="cpu")


def test_needs_bits(toy, model):
    x, y = toy
    with pytest.raises(ValueError, match="needs bits="):
        initialize(x, y, 3, 2, "quant-graphcut", model=model, device="cpu")
    with pytest.raises(ValueError, match="bits must be"):
        initialize(x, y, 3, 2, "quant-graphcut", model=model, bits=9, device="cpu")


def test_bad_inputs(toy, model):
    x, y = toy
    with pytest.raises(ValueError, match="labels must lie"):
        initialize(x, y, 1, 2, "real", device="cpu")
    with pytest.raises(ValueError, match="y must be"):
        initialize(x, y[:5], 3, 2, "real", device="cpu")
    with pytest.raises(ValueError, match="y must be"):
        initialize(x, y.float(), 3, 2, "real", device="cpu")
    with pytest.raises(ValueError, match="x must be"):
        initialize(x.long(), y, 3, 2, "real", device="cpu")
    with pytest.raises(ValueError, match="lambda"):
        initialize(x, y, 3, 2, "quant-graphcut", model=model, bits=4, graphcut_lambda=-1.0, device="cpu")


def test_lambda_changes_the_graphcut_selection():
    g = torch.Generator().manual_seed(13)
    x = torch.rand(40, 1, 8, 8, generator=g)
    y = torch.zeros(40, dtype=torch.long)
    model = get_model("beamcnn", 1, 2, 8, generator=g)
    picks = {lam: initialize(x, y, 2, 10, "quant-graphcut", model=model, bits=4, graphcut_lambda=lam,
                             generator=torch.Generator().manual_seed(0), device="cpu")[3].tolist()
             for lam in (0.0, 1.0, 20.0)}
    assert picks[0.0] != picks[20.0]


MODULES = ["beamsim.distill.init", "beamsim.distill.init.methods", "beamsim.distill.init.graphcut",
           "beamsim.distill.init.features", "beamsim.distill.init.noise", "beamsim.distill.coresets",
           "beamsim.distill.constant"]


@pytest.mark.parametrize("name", [m for m in MODULES if not m.endswith(("features", "noise"))])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_never_imports_sionna():
    code = (f"import importlib, sys\nfor name in {MODULES!r}: importlib.import_module(name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sionna', 'drjit', 'mitsuba', 'tensorflow'))\n"
            "print(bad)\nsys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_needs_are_declared_by_the_methods():
    from beamsim.distill.init import init_needs

    assert {m: init_needs(m) for m in init_methods()} == {
        "herding": ("model",), "kcenter": ("model",), "noise": (), "quant-graphcut": ("model", "bits"), "real": ()}
    with pytest.raises(ValueError, match="known methods are herding, kcenter"):
        init_needs("random")

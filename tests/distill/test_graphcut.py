import pytest
import torch
import torch.nn.functional as F
from torch import nn

from beamsim.distill.init import (DEFAULT_GRAPHCUT_LAMBDA, embed_batched, graph_cut_gain, graph_cut_select, initialize,
                                  last_layer_gradient_similarity, last_layer_gradients, last_layer_io,
                                  uniform_quantizer)
from beamsim.distill.params import embed
from beamsim.models import get_model, reset_parameters

# A and B are near-duplicates, C is different.
S = torch.tensor([[1.0, 0.9, 0.1],
                  [0.9, 1.0, 0.2],
                  [0.1, 0.2, 1.0]])


def f(s: torch.Tensor, subset: list[int], lam: float) -> float:
    """The graph-cut function by its definition."""
    idx = torch.tensor(subset, dtype=torch.long)
    return float(s[:, idx].sum() - lam * s[idx][:, idx].sum())


def test_gains_by_hand():
    # column sums: A 2.0, B 2.1, C 1.3; empty S: gain = colsum - lam * s_xx
    assert graph_cut_gain(S, [], 1.0).tolist() == pytest.approx([1.0, 1.1, 0.3])
    # after B: gain = colsum - lam * (2 s_xB + s_xx): A 2.0 - 2.8 = -0.8, C 1.3 - 1.4 = -0.1
    gain = graph_cut_gain(S, [1], 1.0)
    assert gain[[0, 2]].tolist() == pytest.approx([-0.8, -0.1])
    assert f(S, [1, 2], 1.0) - f(S, [1], 1.0) == pytest.approx(-0.1, abs=1e-6)


def test_lambda_prefers_the_diverse_sample():
    assert graph_cut_select(S, 2, lam=1.0) == [1, 2]   # B (most central), then C, not B's twin A
    assert graph_cut_select(S, 2, lam=0.0) == [1, 0]   # representativeness only: the redundant twin
    assert graph_cut_select(S, 3, lam=1.0) == [1, 2, 0]


def test_gain_is_the_marginal_value_of_f():
    g = torch.Generator().manual_seed(0)
    for s in (torch.rand(6, 6, generator=g), torch.randn(6, 6, generator=g)):  # non-symmetric, signed
        for lam in (0.0, 0.3, 1.0, 2.5):
            for subset in ([], [3], [0, 5], [1, 2, 4]):
                gain = graph_cut_gain(s, subset, lam)
                for x in set(range(6)) - set(subset):
                    want = f(s, subset + [x], lam) - (f(s, subset, lam) if subset else 0.0)
                    assert float(gain[x]) == pytest.approx(want, abs=1e-5)


def test_greedy_takes_the_best_marginal_gain_each_step():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(8, 4, generator=g)
    s = F.cosine_similarity(a[:, None], a[None, :], dim=-1)
    picked = graph_cut_select(s, 5, lam=0.7)
    for t in range(5):
        before = picked[:t]
        best = max((x for x in range(8) if x not in before),
                   key=lambda x: f(s, before + [x], 0.7))
        assert picked[t] == best
    assert len(set(picked)) == 5


def test_shifted_cosine_gives_the_same_choice():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(20, 5, generator=g)
    cos = F.cosine_similarity(a[:, None], a[None, :], dim=-1).double()
    for lam in (0.2, DEFAULT_GRAPHCUT_LAMBDA, 3.0):
        assert graph_cut_select(cos, 10, lam) == graph_cut_select((1 + cos) / 2, 10, lam)


def test_select_errors():
    with pytest.raises(ValueError, match="k must be"):
        graph_cut_select(S, 4)
    with pytest.raises(ValueError, match="square"):
        graph_cut_select(torch.ones(2, 3), 1)
    with pytest.raises(ValueError, match="lambda"):
        graph_cut_select(S, 1, lam=-0.1)
    assert graph_cut_select(S, 0) == []


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.Tanh())
        self.classifier = nn.Linear(5, 3)

    def forward(self, x):
        return self.classifier(self.features(x))


def _per_sample_autograd(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    rows = []
    for i in range(x.shape[0]):
        loss = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
        gw, gb = torch.autograd.grad(loss, [model.classifier.weight, model.classifier.bias])
        rows.append(torch.cat([gw.flatten(), gb]))
    return torch.stack(rows).double()


def test_closed_form_gradients_match_autograd():
    g = torch.Generator().manual_seed(3)
    model = reset_parameters(Tiny(), g)
    x = torch.randn(7, 1, 2, 3, generator=g)
    y = torch.randint(0, 3, (7,), generator=g)
    h, logits = last_layer_io(model, x, device=torch.device("cpu"))
    assert torch.allclose(h, model.features(x).detach())
    want = _per_sample_autograd(model, x, y)
    assert torch.allclose(last_layer_gradients(h, logits, y), want, atol=1e-6)
    cos = F.cosine_similarity(want[:, None], want[None, :], dim=-1)
    assert torch.allclose(last_layer_gradient_similarity(h, logits, y), cos, atol=1e-6)


def test_zero_gradient_has_zero_similarity():
    h = torch.ones(2, 4)
    logits = torch.tensor([[1e4, 0.0], [0.0, 1.0]])  # sample 0: saturated and correct -> zero gradient
    sim = last_layer_gradient_similarity(h, logits, torch.tensor([0, 0]))
    assert sim[0].tolist() == [0.0, 0.0] and float(sim[1, 1]) == pytest.approx(1.0)


def test_last_layer_io_on_beamcnn_and_mode_restored():
    g = torch.Generator().manual_seed(4)
    model = get_model("beamcnn", 1, 4, 8, generator=g).train()
    x = torch.rand(10, 1, 8, 8, generator=g)
    h, logits = last_layer_io(model, x, device=torch.device("cpu"), batch_size=3)
    assert model.training
    with torch.no_grad():
        assert torch.allclose(h, embed(model, x), atol=1e-6)
        assert torch.allclose(logits, model(x), atol=1e-6)
        assert torch.allclose(embed_batched(model, x, device=torch.device("cpu"), batch_size=4), h, atol=1e-6)


def test_last_layer_must_be_linear():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU())
    with pytest.raises(TypeError, match="nn.Linear"):
        last_layer_io(model, torch.rand(2, 1, 2, 2), device=torch.device("cpu"))


@pytest.mark.parametrize("bits", [1, 3, 6])
def test_uniform_quantizer_uses_the_data_range(bits):
    g = torch.Generator().manual_seed(5)
    x = torch.rand(300, 1, 4, 4, generator=g) * torch.linspace(0.1, 1.0, 16).view(1, 1, 4, 4)
    q = uniform_quantizer(x, bits)
    with torch.no_grad():
        xq = q(x)
    flat = xq.view(300, -1)
    assert all(flat[:, j].unique().numel() <= 2 ** bits for j in range(16))
    # per feature: the top level is that feature's max (nothing clipped), the step is max / (2^b - 1)
    assert torch.allclose(flat.amax(0), x.view(300, -1).amax(0))
    assert float((xq - x).abs().max()) <= float(x.max()) / (2 ** bits - 1) / 2 + 1e-6


def test_quant_graphcut_end_to_end():
    g = torch.Generator().manual_seed(6)
    x = torch.rand(60, 1, 8, 8, generator=g)
    y = torch.arange(3).repeat_interleave(20)
    model = get_model("beamcnn", 1, 3, 8, generator=g)
    x_syn, y_syn, counts, source = initialize(x, y, 3, 4, "quant-graphcut", model=model, bits=3,
                                              generator=torch.Generator().manual_seed(0), device="cpu")
    assert counts.tolist() == [4, 4, 4]
    assert y_syn.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert torch.equal(x_syn, x[source]) and torch.equal(y[source], y_syn)
    assert source.unique().numel() == 12
    # the same selection as running the pieces by hand on class 1
    q = uniform_quantizer(x, 3)
    with torch.no_grad():
        h, logits = last_layer_io(model, q(x[20:40]), device=torch.device("cpu"))
    picked = graph_cut_select(last_layer_gradient_similarity(h, logits, y[20:40]), 4, DEFAULT_GRAPHCUT_LAMBDA)
    assert source[4:8].tolist() == [20 + i for i in picked]

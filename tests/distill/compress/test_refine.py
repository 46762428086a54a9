import torch
import torch.nn.functional as F

from beamsim.distill.compress import PatchLayout, feature_model, refine


def smooth_images(generator, n=8):
    x = F.interpolate(torch.rand(n, 3, 4, 4, generator=generator), size=12, mode="bilinear", align_corners=False)
    return (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def test_refinement_lowers_the_feature_loss(generator):
    x = smooth_images(generator)
    out, history = refine(x, 2, patch=4, steps=8, lr=1e-3, generator=torch.Generator().manual_seed(1))
    assert len(history) == 9 and min(history) < history[0]
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= float(x.min()) and float(out.max()) <= float(x.max())
    assert not torch.equal(out, x)


def test_constants_stay_and_result_is_seeded(small_beams):
    x, _ = small_beams
    a, ha = refine(x, 2, steps=3, generator=torch.Generator().manual_seed(2))
    b, hb = refine(x, 2, steps=3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and ha == hb
    constant = PatchLayout.build(x).constant
    assert torch.equal(a[:, constant], x[:, constant])


def test_never_worse_than_the_input(small_beams):
    x, _ = small_beams
    out, history = refine(x, 2, steps=4, lr=0.05, generator=torch.Generator().manual_seed(0))
    if min(history) == history[0]:
        assert torch.equal(out, x)


def test_zero_steps_and_a_given_model(small_beams):
    x, _ = small_beams
    model = feature_model(x, "beamcnn", 8, torch.Generator().manual_seed(0))
    out, history = refine(x, 3, steps=0, model=model, device="cpu")
    assert torch.equal(out, x) and len(history) == 1

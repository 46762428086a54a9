import pytest
import torch

from beamsim.distill.compress import gaq, kmeans, paq


def group_scale(q):
    rows = q.parameter_rows()[:, q.layout.patch_of]
    return q.layout.merge(q.scale[rows].float())


@pytest.mark.parametrize("groups", [1, 3, 10])
def test_round_trip_within_half_a_group_step(small_images, groups):
    q = gaq(small_images, 2, groups, patch=5, generator=torch.Generator().manual_seed(0))
    assert q.codec == "gaq" and 1 <= q.num_groups <= groups
    assert q.group.shape == (6, 9) and int(q.group.max()) < q.num_groups
    err = (q.decode() - small_images).abs()
    assert bool((err <= group_scale(q) / 2 * (1 + 1e-6) + 1e-7).all())


def test_one_group_per_patch_is_paq(small_images):
    base = paq(small_images, 3, patch=5)
    q = gaq(small_images, 3, base.num_groups, patch=5)
    assert q.codec == "paq" and torch.equal(q.decode(), base.decode())


def test_grouping_never_increases_parameters(small_beams):
    x, _ = small_beams
    base = paq(x, 2).sizes().parameters
    for groups in (1, 2, 7, 50, 384, 1000):
        q = gaq(x, 2, groups, generator=torch.Generator().manual_seed(1))
        assert q.num_groups <= min(groups, 24 * 16)
        assert q.sizes().parameters <= base


def test_seeded_and_deterministic(small_beams):
    x, _ = small_beams
    a = gaq(x, 2, 9, generator=torch.Generator().manual_seed(5))
    b = gaq(x, 2, 9, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.group, b.group) and torch.equal(a.codes, b.codes)


def test_kmeans_finds_clusters_and_stops_at_distinct_points():
    g = torch.Generator().manual_seed(0)
    pts = torch.cat([torch.randn(50, 2, generator=g) * 0.01, torch.randn(50, 2, generator=g) * 0.01 + 5])
    _, labels = kmeans(pts, 2, generator=g)
    assert len(set(labels[:50].tolist())) == 1 and len(set(labels[50:].tolist())) == 1 and labels[0] != labels[50]
    centers, labels = kmeans(torch.tensor([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5), 4, generator=g)
    assert centers.shape[0] == 2 and set(labels.tolist()) == {0, 1}

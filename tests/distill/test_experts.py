import dataclasses
import doctest

import pytest
import torch

import beamsim.distill.experts as experts
from beamsim.config import derive_seed
from beamsim.distill.experts import ExpertSettings, expert_cache_key, train_experts, trajectory_accuracy
from beamsim.distill.params import flatten_params
from beamsim.models import get_model

SETTINGS = ExpertSettings(model="beamcnn", num_experts=2, epochs=2, lr=0.05, batch_size=32)


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(64, 1, 8, 8, generator=g), torch.arange(4).repeat(16)


@pytest.fixture
def counter(monkeypatch) -> list[int]:
    """Indices of the experts actually trained (not loaded)."""
    trained: list[int] = []
    real = experts._train_one

    def counting(*args, **kwargs):
        trained.append(args[5])
        return real(*args, **kwargs)

    monkeypatch.setattr(experts, "_train_one", counting)
    return trained


def run(data, tmp_path, settings=SETTINGS, seed=0, **kwargs):
    x, y = data
    return train_experts(x, y, 4, settings, cache_dir=tmp_path, data_key="tiny", seed=seed, device="cpu", **kwargs)


def test_doctests():
    assert doctest.testmod(experts).failed == 0


def test_trajectory_shape_and_initialisation(data, tmp_path):
    rng = torch.get_rng_state()
    trajectories = run(data, tmp_path)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is neither used nor reseeded
    model = get_model("beamcnn", 1, 4, 8, generator=torch.Generator().manual_seed(derive_seed(0, "expert", 0)))
    assert len(trajectories) == 2
    for t in trajectories:
        assert t.shape == (3, flatten_params(model).numel()) and t.dtype == torch.float32
        assert not torch.equal(t[0], t[1]) and not torch.equal(t[1], t[2])
    assert torch.equal(trajectories[0][0], flatten_params(model))
    assert not torch.equal(trajectories[0][0], trajectories[1][0])


def test_cache_hit_loads_without_training(data, tmp_path, counter):
    first = run(data, tmp_path)
    assert counter == [0, 1]
    events = []
    second = run(data, tmp_path, progress=events.append)
    assert counter == [0, 1]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert [e.kind for e in events] == ["loaded", "loaded"]


def test_partial_cache_trains_only_the_missing_experts(data, tmp_path, counter):
    two = run(data, tmp_path)
    events = []
    three = run(data, tmp_path, dataclasses.replace(SETTINGS, num_experts=3), progress=events.append)
    assert len(three) == 3 and counter == [0, 1, 2]
    assert all(torch.equal(a, b) for a, b in zip(two, three))
    assert [e.kind for e in events if e.kind != "epoch"] == ["loaded", "loaded", "trained"]


def test_fewer_epochs_reuse_a_longer_cached_run(data, tmp_path, counter):
    longer = run(data, tmp_path, dataclasses.replace(SETTINGS, epochs=3))
    shorter = run(data, tmp_path)
    assert counter == [0, 1]
    fresh = run(data, tmp_path / "fresh")
    assert all(s.shape == (3, l.shape[1]) for s, l in zip(shorter, longer))
    assert all(torch.equal(s, f) for s, f in zip(shorter, fresh))  # a constant-lr run is a prefix
    counter.clear()
    run(data, tmp_path, dataclasses.replace(SETTINGS, epochs=4))
    assert counter == [0, 1]  # too short: retrained


def test_corrupt_or_mismatched_cache_file_is_retrained(data, tmp_path, counter):
    first = run(data, tmp_path)
    files = sorted(tmp_path.glob("expert-*.pt"))
    assert len(files) == 2
    files[0].write_bytes(b"not a torch file")
    record = torch.load(files[1], weights_only=True)
    record["trajectory"] = record["trajectory"][:1]  # wrong shape
    torch.save(record, files[1])
    counter.clear()
    again = run(data, tmp_path)
    assert sorted(counter) == [0, 1]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    counter.clear()
    run(data, tmp_path)
    assert counter == []  # the retrained files were written back


def test_cache_key_changes_with_every_input():
    base = expert_cache_key("d", SETTINGS, 0, 0, (1, 8, 8), 4)
    others = [expert_cache_key("e", SETTINGS, 0, 0, (1, 8, 8), 4),
              expert_cache_key("d", dataclasses.replace(SETTINGS, lr=0.1), 0, 0, (1, 8, 8), 4),
              expert_cache_key("d", dataclasses.replace(SETTINGS, model="convnet3"), 0, 0, (1, 8, 8), 4),
              expert_cache_key("d", SETTINGS, 1, 0, (1, 8, 8), 4),
              expert_cache_key("d", SETTINGS, 0, 1, (1, 8, 8), 4),
              expert_cache_key("d", SETTINGS, 0, 0, (2, 8, 8), 4),
              expert_cache_key("d", SETTINGS, 0, 0, (1, 8, 8), 5),
              expert_cache_key("d", dataclasses.replace(SETTINGS, momentum=0.5), 0, 0, (1, 8, 8), 4),
              expert_cache_key("d", dataclasses.replace(SETTINGS, batch_size=64), 0, 0, (1, 8, 8), 4)]
    assert len({base, *others}) == 1 + len(others)
    assert base == expert_cache_key("d", SETTINGS, 0, 0, (1, 8, 8), 4)
    same = dataclasses.replace(SETTINGS, num_experts=7, epochs=9)  # siblings and length do not change an expert
    assert base == expert_cache_key("d", same, 0, 0, (1, 8, 8), 4)


def test_same_seed_same_bytes_other_seed_other_experts(data, tmp_path):
    a = run(data, tmp_path / "a")
    b = run(data, tmp_path / "b")
    c = run(data, tmp_path / "c", seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_progress_reports_epochs_and_experts(data, tmp_path):
    events = []
    run(data, tmp_path, progress=events.append)
    kinds = [(e.expert, e.kind, e.epoch) for e in events]
    assert kinds == [(0, "epoch", 1), (0, "epoch", 2), (0, "trained", 2),
                     (1, "epoch", 1), (1, "epoch", 2), (1, "trained", 2)]
    assert all(e.seconds >= 0 for e in events) and events[0].loss > 0


def test_trajectory_accuracy(data, tmp_path):
    x, y = data
    (trajectory,) = run(data, tmp_path, dataclasses.replace(SETTINGS, num_experts=1))
    accuracy = trajectory_accuracy(get_model("beamcnn", 1, 4, 8), trajectory, x, y, batch_size=10)
    assert accuracy.shape == (3,) and ((accuracy >= 0) & (accuracy <= 1)).all()


@pytest.mark.parametrize("change", [dict(num_experts=0), dict(epochs=0), dict(lr=0.0), dict(lr=float("nan")),
                                    dict(momentum=1.0), dict(weight_decay=-1.0), dict(batch_size=2.5),
                                    dict(label_smoothing=1.0), dict(model="")])
def test_settings_validate_themselves(change):
    with pytest.raises(ValueError):
        ExpertSettings(**change)


def test_bad_data_shape(tmp_path):
    with pytest.raises(ValueError, match="x must be"):
        train_experts(torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), 4, SETTINGS, cache_dir=tmp_path,
                      data_key="k")

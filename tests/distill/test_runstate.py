"""RunState: one object writes and reads the checkpoint, and checkpoints of beamsim 0.1 still resume."""

import hashlib
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import beamsim.distill.runstate as runstate
from beamsim.distill.objectives import Objective
from beamsim.distill.quadd import QuADD
from beamsim.distill.quant import build_quantizer
from beamsim.distill.runstate import RUN_KEYS, Best, CheckpointMismatchError, RunState
from tests.distill.test_quadd import Toy, tiny_config

CHECKPOINTS = Path(__file__).parent / "checkpoints"

#: Checkpoints that beamsim 0.1 (the code before the engine redesign) wrote at iteration 2 of a
#: 4-iteration run (seed 5, tiny_config below) interrupted at iteration 3, and the SHA-256 of
#: the synthetic set of that run uninterrupted, as 0.1 computed it.
LEGACY = {
    "tm-fsq": (dict(objective="tm", quantizer="fsq", bits=4),
               "52a14016dbd34a08d845947f4c6e53ddb33290e0588552cd696b9ff0d622d23a"),
    "dm-apot": (dict(objective="dm", quantizer="apot"),
                "5a34141c96d5a7247d4d003570cb45f9da5c4f9f8a8e306825282f7aebcb0614"),
}
#: Entries 0.1 wrote for every objective that only trajectory matching owns now.
TM_ENTRIES = {"syn_lr", "opt_lr"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One expert cache for the module's runs (the same experts every time)."""
    return tmp_path_factory.mktemp("experts")


def legacy_config(**kw):
    return tiny_config(iterations=4, checkpoint_every=2, val_fraction=0.2, val_every=2, **kw)


def sha256(x: torch.Tensor) -> str:
    return hashlib.sha256(x.numpy().tobytes()).hexdigest()


def interrupted_checkpoint(cfg, path: Path, cache: Path) -> dict:
    """The checkpoint a run leaves when stopped after iteration 3 (that of iteration 2)."""

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=5, device="cpu", cache_dir=cache, checkpoint_path=path, progress=interrupt).fit(Toy())
    return torch.load(path, weights_only=True)


def assert_same(a, b, where="", tol=0.0):
    """Equal bit for bit (NaN equal to NaN), through dicts, lists and tuples; with ``tol`` > 0,
    floats equal within ``tol`` (relative and absolute) and everything else still exactly."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, where
        if tol and a.is_floating_point():
            assert torch.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), where
        else:
            assert torch.equal(torch.nan_to_num(a, nan=-7.0), torch.nan_to_num(b, nan=-7.0)), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}", tol)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]", tol)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    elif tol and isinstance(a, float):
        assert isinstance(b, float) and math.isclose(a, b, rel_tol=tol, abs_tol=tol), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


#: How far a fresh run's values may sit from those 0.1 wrote on another machine: the last bits of
#: a float move with the CPU and the library versions (one entry of 704 by 6e-8 on an AVX-512
#: machine); the resume test above stays exact.
LEGACY_TOL = 1e-5


def history_without(state: dict, drop: set[str]) -> dict[str, torch.Tensor]:
    keys = state["history_keys"]
    return {k: state["history"][:, i] for i, k in enumerate(keys) if k not in drop}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_a_checkpoint_of_0_1_resumes_to_the_bytes_of_an_uninterrupted_run(name, tmp_path, cache):
    settings, digest = LEGACY[name]
    ckpt = tmp_path / "run.ckpt.pt"
    shutil.copy(CHECKPOINTS / f"quadd-0.1-{name}.pt", ckpt)
    q = QuADD(legacy_config(**settings), seed=5, device="cpu", cache_dir=cache, checkpoint_path=ckpt)
    assert q.check_resume(Toy())
    q.fit(Toy(), resume=True)
    assert sha256(q.synthetic_) == digest
    assert [i for i, _ in q.validation_] == [2, 4] and len(q.history_) == 4


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_the_checkpoint_holds_the_entries_of_0_1_with_their_values(name, tmp_path, cache):
    settings, _ = LEGACY[name]
    legacy = torch.load(CHECKPOINTS / f"quadd-0.1-{name}.pt", weights_only=True)
    state = interrupted_checkpoint(legacy_config(**settings), tmp_path / "run.ckpt.pt", cache)
    owned = set(legacy) if settings["objective"] == "tm" else set(legacy) - TM_ENTRIES
    assert set(state) == owned
    for key in owned - {"history", "history_keys"}:
        assert_same(legacy[key], state[key], key, LEGACY_TOL)
    # wall times differ between runs; the trajectory-matching column left the other objectives' log
    drop = {"seconds"} | (set() if settings["objective"] == "tm" else {"syn_lr"})
    assert_same(history_without(legacy, drop), history_without(state, drop), "history", LEGACY_TOL)


# --- RunState on its own ------------------------------------------------------------------------


class Scaled(Objective):
    """An objective with its own parameter and optimiser (stands in for trajectory matching)."""

    def __init__(self):
        self.scale = torch.tensor(2.0, requires_grad=True)
        self.opt = torch.optim.SGD([self.scale], lr=0.1, momentum=0.9)

    def state_dict(self):
        return {"scale": self.scale.detach(), "opt_scale": self.opt.state_dict()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.scale.copy_(state["scale"])
        self.opt.load_state_dict(state["opt_scale"])
        return self


def make_state(seed: int, fingerprint: str = "f" * 64) -> RunState:
    g = torch.Generator().manual_seed(seed)
    syn = nn.Parameter(torch.rand(6, 1, 2, 2, generator=g))
    quantizer = build_quantizer("fsq", bits=3, generator=torch.Generator().manual_seed(seed + 1))
    quantizer.initialize(syn.detach())
    opt_syn = torch.optim.SGD([syn], lr=0.5, momentum=0.5)
    opt_alpha = torch.optim.Adam([nn.Parameter(torch.ones(3))], lr=0.1)  # stands in for learned thresholds
    objective = Scaled()
    # one step of everything, so that the optimisers hold state
    loss = (quantizer(syn) * objective.scale).pow(2).sum() + opt_alpha.param_groups[0]["params"][0].sum()
    loss.backward()
    for opt in (opt_syn, opt_alpha, objective.opt):
        opt.step()
    quantizer.step()
    torch.rand(seed + 1, generator=quantizer.generator)
    run = RunState(fingerprint, syn, opt_syn, g, quantizer, opt_alpha, objective)
    run.iteration = 3
    run.history = [{"iteration": 1.0, "loss": 0.5}, {"iteration": 2.0, "loss": 0.25, "val_top1": 0.5}]
    run.validation = [(2, 0.5)]
    run.best = Best.of(2, 0.5, syn * 0 + seed, quantizer)
    return run


def test_save_then_load_restores_every_entry(tmp_path):
    saved = make_state(seed=1)
    path = saved.save(tmp_path / "state.pt")
    restored = make_state(seed=2).load(path)
    assert_same(saved.state_dict(), restored.state_dict())
    assert restored.iteration == 3 and restored.validation == [(2, 0.5)] and restored.best.iteration == 2
    # the generators continue where the saved ones were
    assert torch.equal(torch.rand(4, generator=saved.generator), torch.rand(4, generator=restored.generator))
    assert torch.equal(torch.rand(4, generator=saved.quantizer.generator),
                       torch.rand(4, generator=restored.quantizer.generator))
    # a record without a key comes back with NaN there (the table is rectangular)
    assert math.isnan(restored.history[0]["val_top1"]) and restored.history[1]["val_top1"] == 0.5


def test_the_objective_gets_back_its_own_entries_only(tmp_path):
    saved = make_state(seed=1)
    state = saved.state_dict()
    assert {"scale", "opt_scale"} <= set(state) and not {"scale", "opt_scale"} & set(RUN_KEYS)
    seen = {}
    restored = make_state(seed=2)
    restored.objective.load_state_dict = lambda entries: seen.update(entries)
    restored.load_state_dict(state)
    assert set(seen) == {"scale", "opt_scale"}


def test_an_objective_may_not_overwrite_the_runs_entries():
    run = make_state(seed=1)
    run.objective.state_dict = lambda: {"syn": torch.zeros(1)}
    with pytest.raises(ValueError, match="entries the run owns: syn"):
        run.state_dict()


def test_a_checkpoint_of_another_run_is_refused_with_its_path(tmp_path):
    path = make_state(seed=1, fingerprint="a" * 64).save(tmp_path / "state.pt")
    with pytest.raises(CheckpointMismatchError, match=f"checkpoint {path} was written with other settings"):
        make_state(seed=1, fingerprint="b" * 64).load(path)
    assert runstate.checkpoint_fingerprint(path) == "a" * 64


def test_the_write_is_atomic(tmp_path, monkeypatch):
    path = make_state(seed=1).save(tmp_path / "state.pt")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(runstate.torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        make_state(seed=2).save(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]


def test_data_key_and_fingerprint_follow_data_settings_and_seed():
    x, y = torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
    key = runstate.data_key(x, y)
    assert len(key) == 32 and key != runstate.data_key(x + 1, y) and key != runstate.data_key(x, 1 - y)
    cfg = tiny_config()
    base = runstate.run_fingerprint(cfg, 0, key)
    assert base == runstate.run_fingerprint(cfg.replace(iterations=99, checkpoint_every=7), 0, key)  # may extend
    assert base != runstate.run_fingerprint(cfg, 1, key)
    assert base != runstate.run_fingerprint(cfg.replace(bits=3), 0, key)


import json

from typer.testing import CliRunner

from beamsim.distill.bench import bench_quant

KEYS = {"quantizer", "bits", "shape", "device", "repeats", "threads", "quant_ms", "identity_ms", "quant_min_ms",
        "identity_min_ms", "ratio"}


def test_bench_quant_library():
    import torch

    before = torch.get_num_threads()
    doc = bench_quant(device="cpu", repeats=2, warmup=1, shape=(16, 1, 8, 8), threads=1)
    assert torch.get_num_threads() == before  # restored
    assert doc["threads"] == 1
    assert set(doc) == KEYS
    assert doc["shape"] == [16, 1, 8, 8] and doc["device"] == "cpu" and doc["repeats"] == 2
    assert doc["quant_ms"] > 0 and doc["identity_ms"] > 0
    assert doc["ratio"] == doc["quant_ms"] / doc["identity_ms"]


def test_cli_bench_quant_json():
    from beamsim.cli.main import app

    result = CliRunner().invoke(app, ["bench", "quant", "--json", "--repeats", "2", "--samples", "32",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == KEYS and doc["shape"] == [32, 1, 8, 8]


def test_cli_bench_quant_rejects_bad_repeats():
    from beamsim.cli.main import app

    result = CliRunner().invoke(app, ["bench", "quant", "--repeats", "0"])
    assert result.exit_code != 0


def test_the_flops_of_an_iteration_grow_with_the_unrolled_student_steps(tiny_dataset, tmp_path):
    """Trajectory matching unrolls ``syn_steps`` student steps and differentiates through them:
    twice the steps, about twice the operations; the set-up of a run is not counted."""
    from beamsim.dataset import BeamDataset
    from beamsim.distill.bench import count_iteration_flops
    from beamsim.distill.config import resolve_config
    from tests.tiny import TINY

    config_file = tmp_path / "tiny.toml"
    config_file.write_text(TINY)
    base = resolve_config("beam", config_file, objective="tm").replace(spc=2, checkpoint_every=0)
    train = BeamDataset(tiny_dataset, "train")
    import torch

    flops = {steps: count_iteration_flops(train, base.replace(syn_steps=steps), torch.device("cpu"),
                                          cache_dir=tmp_path / "experts") for steps in (2, 4)}
    assert flops[2] > 0
    assert 1.6 < flops[4] / flops[2] < 2.4, flops

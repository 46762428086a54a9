"""``--executor ray``: generation shards and study points as tasks of a real local Ray instance.

One local instance (2 CPUs) serves the in-process tests of this module; the command-line test
starts and stops its own, as a user's command does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beamsim.scenarios import load_scenario, scenario_to_toml
from beamsim.simulation.generate import generate
from tests.golden.test_golden import content_digest
from tests.refusal import refused

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def small_toml(folder: Path, samples: int = 128) -> Path:
    """umi with 32 UEs per batch: ``samples`` / 32 batches to shard."""
    base = load_scenario("umi")
    scenario = dataclasses.replace(base, name="umi-ray", link=dataclasses.replace(base.link, drops_per_batch=2, ues_per_drop=16),
                                   dataset=dataclasses.replace(base.dataset, samples=samples))
    path = folder / "umi-ray.toml"
    path.write_text(scenario_to_toml(scenario))
    return path


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_generate_on_ray_writes_the_bytes_of_a_single_process_run(tmp_path):
    """The command starts a local Ray instance, runs 2 shards as tasks, joins them and stops Ray."""
    scenario = small_toml(tmp_path)
    single = tmp_path / "single.h5"
    generate(str(scenario), single, seed=3, device="cpu")
    out = tmp_path / "ray.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "beamsim.cli.main", "generate", "--scenario", str(scenario), "--seed", "3",
                           "--device", "cpu", "--executor", "ray", "--shards", "2", "--out", str(out), "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["executor"], result["shards"], result["samples"]) == ("ray", 2, 128)
    assert content_digest(out) == content_digest(single)


def test_a_failing_shard_is_one_line_and_writes_nothing(tmp_path, local_ray):
    """An rt scenario whose area holds no UE spot fails inside the tasks, not before."""
    from beamsim.errors import BackendUnavailableError
    from beamsim.simulation.llvm import import_sionna_rt

    try:
        import_sionna_rt()
    except BackendUnavailableError as exc:
        pytest.skip(f"Sionna RT unavailable: {exc}")
    base = load_scenario("street-canyon")
    bad = dataclasses.replace(base, rt=dataclasses.replace(base.rt, scene="empty", area=(-1.0, 1.0, -1.0, 1.0),
                                                            min_distance=5.0, batch_size=8),
                              dataset=dataclasses.replace(base.dataset, samples=16))
    path = tmp_path / "in" / "bad.toml"
    path.parent.mkdir()
    path.write_text(scenario_to_toml(bad))
    line = refused(["generate", "--scenario", path, "--executor", "ray", "--shards", "2", "--out",
                    tmp_path / "x.h5"], tmp_path, "found only 0 outdoor UE spots")
    assert "Traceback" not in line


def test_more_shards_than_batches_is_one_line(tmp_path):
    scenario = small_toml(tmp_path, samples=64)
    refused(["generate", "--scenario", scenario, "--executor", "ray", "--shards", "3", "--out", tmp_path / "x.h5"],
            tmp_path, "--shards must be between 1 and the run's 2 batch(es)")
    refused(["generate", "--scenario", scenario, "--shards", "2", "--out", tmp_path / "x.h5"], tmp_path,
            "--shards and --address go with --executor ray")


def _study(tmp_path: Path, data: Path, executor: str, out: str):
    from beamsim.experiments.studies.baselines import baselines_study
    from beamsim.experiments.studies.settings import StudySettings

    settings = StudySettings(data=data, out=tmp_path / out, runs=1, epochs=2, iterations=2, objective="dm",
                             device="cpu", cache_dir=tmp_path / "experts", executor=executor)
    lines: list[str] = []
    return baselines_study(settings, methods=["random", "herding", "distill-ptq"], spc=2, bits=4,
                           progress=lines.append), lines


def test_a_study_on_ray_equals_the_serial_study_and_resumes_from_its_cache(tmp_path, tiny_dataset, local_ray):
    serial, _ = _study(tmp_path, tiny_dataset, "serial", "serial")
    on_ray, lines = _study(tmp_path, tiny_dataset, "ray", "ray")
    assert any("as Ray tasks" in line for line in lines)
    for a, b in zip(serial.points, on_ray.points, strict=True):
        assert (a["name"], a["cached"], b["cached"]) == (b["name"], False, False)
        runs = [[{k: v for k, v in run.items() if k != "seconds"} for run in p["evaluation"]["per_run"]] for p in (a, b)]
        assert runs[0] == runs[1], a["name"]
    points = sorted((tmp_path / "ray" / "points").glob("*.json"))
    assert len(points) == 3
    victim = points[0]
    victim.unlink()  # as if the study had been cancelled before that point was done
    again, lines = _study(tmp_path, tiny_dataset, "ray", "ray")
    assert sum(not p["cached"] for p in again.points) == 1 and victim.exists()
    assert "1 point(s) to compute as Ray tasks" in lines


def test_an_unreachable_cluster_is_one_line(tmp_path):
    """ray.init would retry for minutes; nothing listens on port 1 of this machine."""
    scenario = small_toml(tmp_path, samples=64)
    refused(["generate", "--scenario", scenario, "--executor", "ray", "--address", "127.0.0.1:1", "--out",
             tmp_path / "x.h5"], tmp_path, "cannot reach the Ray cluster at 127.0.0.1:1")


def test_tracks_on_ray_equal_the_single_process_tracks(tmp_path, local_ray):
    """A sequence file (BM-Case2) goes through the same shards and join."""
    from beamsim.sequences import read_sequences
    from beamsim.simulation.ray_generate import generate_on_ray

    base = load_scenario("umi-case2")
    scenario = dataclasses.replace(base, link=dataclasses.replace(base.link, drops_per_batch=2, ues_per_drop=16),
                                   dataset=dataclasses.replace(base.dataset, samples=64))
    generate(scenario, tmp_path / "single.h5", seed=2, device="cpu")
    result = generate_on_ray(scenario, tmp_path / "ray.h5", shards=2, seed=2, device="cpu")
    assert (result["shards"], result["samples"], result["instants"]) == (2, 64, 12)
    assert content_digest(tmp_path / "ray.h5") == content_digest(tmp_path / "single.h5")
    assert read_sequences(tmp_path / "ray.h5")[1]["horizons"].tolist() == [1, 2, 4]


def test_importing_beamsim_and_its_ray_modules_does_not_import_ray():
    code = ("import sys, beamsim, beamsim.distributed, beamsim.simulation.ray_generate, beamsim.cli.main; "
            "print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_bad_executor_options_are_one_line(tmp_path, tiny_dataset):
    scenario = small_toml(tmp_path, samples=64)
    refused(["generate", "--scenario", scenario, "--executor", "ray", "--cpus-per-task", "0", "--out",
             tmp_path / "x.h5"], tmp_path, "--cpus-per-task must be >= 1")
    study = ["study", "baselines", "--data", tiny_dataset, "--methods", "random", "--spc", "1", "--runs", "1",
             "--out", tmp_path / "study"]
    refused([*study, "--executor", "ray", "--cpus-per-task", "0"], tmp_path, "--cpus-per-task must be an integer >= 1")
    refused([*study, "--address", "127.0.0.1:6379"], tmp_path, "--address goes with --executor ray")


def test_without_ray_installed_the_executor_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    scenario = small_toml(tmp_path, samples=64)
    refused(["generate", "--scenario", scenario, "--executor", "ray", "--out", tmp_path / "x.h5"], tmp_path,
            "pip install 'beamsim[ray]'")

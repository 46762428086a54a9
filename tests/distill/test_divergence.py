"""A distillation whose loss or gradient stops being finite ends with one clear error at that
iteration (what to lower), instead of stepping the samples to NaN and failing later in an
unrelated place (the validation model's training, or the file's checks)."""

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.distill.quadd import QuADD
from tests.distill.test_quadd import Toy, tiny_config
from tests.tiny import TINY


@pytest.mark.parametrize("quantizer", [{"quantizer": "none", "bits": 32}, {"quantizer": "apot", "bits": 4}])
def test_a_diverging_run_stops_at_the_iteration_with_one_clear_error(quantizer, tmp_path):
    # the unrolled student's steps overflow (a real run met this with syn_steps 20 at spc 10)
    cfg = tiny_config(objective="tm", syn_lr_init=1e30, clip_grad=0.0, iterations=3, **quantizer)
    with pytest.raises(ValueError, match=r"distillation diverged at iteration \d+ \(loss .*lower lr_syn"):
        QuADD(cfg, seed=1, cache_dir=tmp_path, device="cpu").fit(Toy())


def test_a_stable_run_is_not_stopped(tmp_path):
    q = QuADD(tiny_config(objective="tm", iterations=2), seed=1, cache_dir=tmp_path, device="cpu").fit(Toy())
    assert q.iterations_run_ == 2


def test_the_command_says_it_in_one_line_and_writes_no_file(tmp_path, tiny_dataset):
    config = tmp_path / "unstable.toml"
    config.write_text(TINY + "syn_lr_init = 1e30\nclip_grad = 0.0\n")
    out = tmp_path / "never.h5"
    result = CliRunner().invoke(app, [str(a) for a in ("distill", "--data", tiny_dataset, "--spc", 1, "--bits", 3,
                                                       "--config", config, "--objective", "tm", "--out", out,
                                                       "--cache-dir", tmp_path / "cache")])
    # the progress bar drawn so far stays above it; the error is one line, the last, no traceback
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("beamsim: error: distillation diverged at iteration 1 (loss nan")
    assert sum("error" in line for line in lines) == 1 and "Traceback" not in result.output
    assert not out.exists()

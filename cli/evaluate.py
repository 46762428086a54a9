"""``beamsim evaluate``: train fresh networks on a training set, report beam KPIs on real test data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import DeviceOpt, JsonOpt, SeedOpt
from beamsim.cli._output import print_json, print_table, progress_bar, stderr, stdout
from beamsim.cli._app import app

__all__ = ["evaluate_cmd"]

_PERCENT = {"top1": "top-1", "top2": "top-2", "top3": "top-3", "top5": "top-5",
            "within_1db": "top-1 within 1 dB", "macro_f1": "macro F1"}
_DB = {"rsrp_loss_db": "RSRP loss, mean (dB)", "rsrp_loss_p95_db": "RSRP loss, 95th pct (dB)"}


@app.command("evaluate")
def evaluate_cmd(
    train: Annotated[Path, typer.Option("--train", help="Training set: a data-set file (its train split) or a distilled file.")],
    test: Annotated[Optional[Path], typer.Option("--test", help="Data-set file whose test split is the test set (default: the training file's source data set).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Network: beamcnn | convnet3 | convnet5 | alexnet | vgg11 | resnet18.")] = "beamcnn",
    runs: Annotated[int, typer.Option("--runs", help="Independent runs (seeds); mean and std are reported.")] = 5,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Training epochs (default: ceil(200,000 / training samples), clipped to 30..300).")] = None,
    encoding: Annotated[Optional[str], typer.Option("--encoding", help="relative | attenuation (default: the distilled file's, else relative).")] = None,
    precision: Annotated[str, typer.Option("--precision", help="bf16 (bfloat16 autocast in training) | fp32.")] = "bf16",
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Folder for confusion_matrix.png and rsrp_loss_cdf.png.")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Train fresh networks on a training set and test them on a real test split (3GPP beam KPIs)."""
    from beamsim.experiments.evaluate import default_epochs, evaluate, prepare

    if runs < 1:
        raise ValueError(f"--runs must be >= 1, not {runs}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be >= 1, not {epochs}")
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"--precision must be 'bf16' or 'fp32', not {precision!r}")
    if encoding is not None and encoding not in ("relative", "attenuation"):
        raise ValueError(f"--encoding must be 'relative' or 'attenuation', not {encoding!r}")
    from beamsim.models import list_models

    if model not in list_models():
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    train_set, test_set = prepare(train, test, encoding)  # every file checked before any training
    n_epochs = epochs if epochs is not None else default_epochs(len(train_set))
    with progress_bar(f"evaluate {model}", total=runs * n_epochs, enabled=not json_output) as advance:
        result = evaluate(train_set, test_set, model=model, runs=runs, epochs=n_epochs,
                          device=device, seed=seed, precision=precision,  # type: ignore[arg-type]
                          on_epoch=lambda _run, _epoch: advance(1))
    written = []
    if plot is not None:
        from beamsim.experiments.plots import write_evaluation_plots

        written = write_evaluation_plots(result, plot)
    if json_output:
        doc = result.to_dict()
        if written:
            doc["plots"] = [str(p) for p in written]
        print_json(doc)
        return
    _print_result(result)
    for path in written:
        stderr.print(f"wrote {path}")


def _fmt(name: str, stats: dict[str, float] | float) -> str:
    if isinstance(stats, dict):
        mean, std = stats["mean"], stats["std"]
        return f"{100 * mean:.2f} ± {100 * std:.2f}" if name in _PERCENT else f"{mean:.3f} ± {std:.3f}"
    return f"{100 * stats:.2f}" if name in _PERCENT else f"{stats:.3f}"


def _print_result(result) -> None:
    summary = result.summary
    p = result.protocol
    title = (f"{result.model} trained on {result.train} ({result.train_samples:,} samples), "
             f"tested on {result.test} ({result.test_samples:,} samples); {result.runs} run(s), mean ± std")
    rows = []
    for name in summary:
        label = _PERCENT.get(name) or _DB.get(name, name)
        unit = " (%)" if name in _PERCENT else ""
        rows.append((label + unit, _fmt(name, summary[name]), _fmt(name, result.reference[name])))
    print_table(title, ["KPI", result.model, "strongest observed beam"], rows)
    secs = result.seconds_per_run
    stdout.print(f"protocol: {p.epochs} epochs, batch {p.batch_size}, {p.optimizer} lr {p.lr:g} "
                 f"({p.schedule}), weight decay {p.weight_decay:g}, label smoothing {p.label_smoothing:g}, "
                 f"{'bf16 autocast' if p.precision == 'bf16' else 'float32'}; encoding {result.encoding}; seed {result.seed}")
    stdout.print(f"training time: {sum(secs) / len(secs):.1f} s per run on {result.device} "
                 f"({result.threads} thread{'s' if result.threads != 1 else ''})")

"""``beamsim evaluate``: train fresh networks on a training set, report beam KPIs (or image
top-1/top-5/macro F1) on real test data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import (DEFAULT_ENCODING_NAME, AugmentName, DeviceOpt, Encoding, JsonOpt, Precision,
                                  SeedOpt, value)
from beamsim.cli._output import print_json, print_table, progress_bar, stderr, stdout

__all__ = ["evaluate_cmd"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()

_PERCENT = {"top1": "top-1", "top2": "top-2", "top3": "top-3", "top4": "top-4", "top5": "top-5", "top8": "top-8",
            "within_1db": "top-1 within 1 dB", "macro_f1": "macro F1"}
_DB = {"rsrp_loss_db": "RSRP loss, mean (dB)", "rsrp_loss_p95_db": "RSRP loss, 95th pct (dB)"}
_ENCODING_HELP = f"relative | attenuation (default: the distilled file's, else {DEFAULT_ENCODING_NAME})."


@app.command("evaluate")
def evaluate_cmd(
    train: Annotated[list[Path], typer.Option("--train", help="Training set: a data-set file (its train split) or a distilled file. Repeat it to compare several sets on one test split (one table row each, with their stored bytes).")],
    test: Annotated[Optional[Path], typer.Option("--test", help="Data-set file whose test split is the test set (default: the training file's source data set).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Network: beamcnn | beammlp | beamgru | convnet3 | convnet5 | alexnet | vgg11 | resnet18 (default: beamcnn; images: the distilled file's network).")] = None,
    runs: Annotated[int, typer.Option("--runs", help="Independent runs (seeds); mean and std are reported.")] = 5,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Training epochs (default: ceil(200,000 / N x max(1, 1,500 / N)) for N training samples, clipped to 30..600).")] = None,
    encoding: Annotated[Optional[Encoding], typer.Option("--encoding", help=_ENCODING_HELP)] = None,
    precision: Annotated[Precision, typer.Option("--precision", help="bf16 (bfloat16 autocast in training) or fp32.")] = Precision.bf16,
    augment: Annotated[AugmentName, typer.Option("--augment", help="auto (DSA for images, none for beam maps), dsa or none.")] = AugmentName.auto,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Folder for confusion_matrix.png and rsrp_loss_cdf.png.")] = None,
    joint: Annotated[bool, typer.Option("--joint", help="Sequence files: one network with a head per horizon (default: one network per horizon).")] = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Train fresh networks on a training set and test them on a real test split (3GPP beam KPIs;
    top-1, top-5 and macro F1 for image sets)."""
    from beamsim.config import resolve_device
    from beamsim.experiments.evaluate import default_epochs, evaluate, prepare

    if runs < 1:
        raise ValueError(f"--runs must be >= 1, not {runs}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be >= 1, not {epochs}")
    encoding, precision, augment = value(encoding), value(precision), value(augment)
    from beamsim.models import list_models

    if model is not None and model not in list_models():
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    dev = resolve_device(device)
    from beamsim.sequences import is_sequence_file

    if len(train) > 1:
        if plot is not None or joint or any(is_sequence_file(path) for path in train):
            raise ValueError("several --train files compare static training sets: leave --plot and --joint out, "
                             "and evaluate a sequence file on its own")
        _compare(train, test, json_output, encoding=encoding, epochs=epochs, runs=runs, device=dev, model=model,
                 seed=seed, precision=precision, augment=augment)
        return
    train = train[0]

    if is_sequence_file(train):
        if test is not None or plot is not None:
            raise ValueError("a sequence file is tested on its own test split, per horizon: leave --test and --plot out")
        _evaluate_sequences(train, json_output, encoding=encoding or DEFAULT_ENCODING_NAME, joint=joint, model=model,
                            runs=runs, epochs=epochs, device=dev, seed=seed, precision=precision)
        return
    if joint:
        raise ValueError("--joint trains a head per horizon of a sequence file (BM-Case2); this is a static data set")
    train_set, test_set = prepare(train, test, encoding, device=dev)  # every file checked before any training
    n_epochs = epochs if epochs is not None else default_epochs(len(train_set))
    with progress_bar(f"evaluate {model or ''}".strip(), total=runs * n_epochs, enabled=not json_output) as advance:
        result = evaluate(train_set, test_set, model=model, runs=runs, epochs=n_epochs,
                          device=dev, seed=seed, precision=precision, augment=augment,  # type: ignore[arg-type]
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
    reference = result.reference_name
    rows = []
    for name in summary:
        label = _PERCENT.get(name) or _DB.get(name, name)
        unit = " (%)" if name in _PERCENT else ""
        row = (label + unit, _fmt(name, summary[name]))
        rows.append(row if reference is None else row + (_fmt(name, result.reference[name]),))
    print_table(title, ["KPI", result.model] + ([] if reference is None else [reference]), rows)
    secs = result.seconds_per_run
    data = "; ".join(([f"encoding {result.encoding}"] if result.encoding else [])
                     + ([f"DSA {p.augment[4:]}"] if p.augment.startswith("dsa:") else [])) or "no augmentation"
    stdout.print(f"protocol: {p.epochs} epochs, batch {p.batch_size}, {p.optimizer} lr {p.lr:g} "
                 f"({p.schedule}), weight decay {p.weight_decay:g}, label smoothing {p.label_smoothing:g}, "
                 f"{'bf16 autocast' if p.precision == 'bf16' else 'float32'}; {data}; seed {result.seed}")
    stdout.print(f"training time: {sum(secs) / len(secs):.1f} s per run on {result.device} "
                 f"({result.threads} thread{'s' if result.threads != 1 else ''})")


def _compare(paths: list[Path], test: Path | None, json_output: bool, *, encoding: str | None, epochs: int | None,
             runs: int, device, **protocol) -> None:
    """Several training sets on one test split: one row each with its stored size (the card's table)."""
    from beamsim.experiments.compare import compare, prepare_sets

    prepared = prepare_sets(paths, test, encoding, epochs=epochs, device=device)  # every file checked before any training
    total = runs * sum(p.epochs for p in prepared)
    with progress_bar("evaluate", total=total, enabled=not json_output) as advance:
        rows = compare(prepared, runs=runs, device=device, on_epoch=lambda _run, _epoch: advance(1), **protocol)
    if json_output:
        print_json({"compare": [row.to_dict() for row in rows]})
        return
    first = rows[0].result
    header = ("training set", "samples", "stored bytes", "x smaller", "top-1 %", "within 1 dB %", "RSRP loss dB")
    table = [header]
    for row in rows:
        r, size = row.result, row.size
        kpis = [_fmt(name, r.summary[name] if r.runs > 1 else r.summary[name]["mean"])
                for name in ("top1", "within_1db", "rsrp_loss_db")]
        table.append((row.path.name, f"{r.train_samples:,}", f"{size.bytes:,}",
                      "-" if size.ratio is None else f"{size.ratio:,.1f}", *kpis))
    stdout.print(f"{first.model} trained on each set, tested on {first.test} ({first.test_samples:,} samples); "
                 f"{first.runs} run(s){', mean ± std' if first.runs > 1 else ''}", soft_wrap=True, highlight=False)
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:  # plain aligned text: a log or a narrow terminal keeps every digit
        cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        stdout.print("  ".join(cells), soft_wrap=True, highlight=False, markup=False)
    stdout.print("stored bytes: a distilled file's size on disk; a data-set file's training inputs at 32 bits per "
                 "element (x smaller is against it)", soft_wrap=True, highlight=False)


def _evaluate_sequences(path: Path, json_output: bool, **protocol) -> None:
    """One model per horizon (or one with a head per horizon) of a sequence file (BM-Case2),
    beside both trivial references."""
    from beamsim.experiments.sequence_eval import LAST_BEAM_HELD, evaluate_sequences

    results = evaluate_sequences(path, **protocol)
    first = results[0].result
    set_a, set_b = first.num_classes, results[0].set_b_beams
    if json_output:
        print_json({"train": str(path), "joint": bool(protocol.get("joint")), "set_a_beams": set_a,
                    "set_b_beams": set_b,
                    "horizons": [{"horizon": r.horizon, **r.result.to_dict(), "last_beam_held": r.held}
                                 for r in results]})
        return
    rows = []
    for r in results:
        model, ref = r.result.summary, r.result.reference
        rows.append((f"+{r.horizon}", _fmt("top1", model["top1"]), _fmt("within_1db", model["within_1db"]),
                     _fmt("rsrp_loss_db", model["rsrp_loss_db"]), _fmt("top1", ref["top1"]),
                     _fmt("rsrp_loss_db", ref["rsrp_loss_db"]), _fmt("top1", r.held["top1"]),
                     _fmt("rsrp_loss_db", r.held["rsrp_loss_db"])))
    how = "with a head per horizon" if protocol.get("joint") else "per horizon"
    title = (f"{first.model} {how}, trained on {path} ({first.train_samples:,} tracks), tested on "
             f"{first.test_samples:,}; {first.runs} run(s), mean ± std")
    print_table(title, ["horizon", "top-1 (%)", "within 1 dB (%)", "RSRP loss (dB)",
                        f"{first.reference_name}, last instant: top-1 (%)", "RSRP loss (dB)",
                        f"{LAST_BEAM_HELD}: top-1 (%)", "RSRP loss (dB)"], rows)
    secs = [s for r in results for s in r.result.seconds_per_run]
    stdout.print(f"input [{', '.join(map(str, first.input_shape))}] (history x Set B); {first.protocol.epochs} epochs; "
                 f"training time: {sum(secs) / len(secs):.1f} s per run on {first.device}")
    if set_b < set_a:
        stdout.print(f"{LAST_BEAM_HELD} knows all {set_a} Set A beams at the last instant and the model reads "
                     f"{set_b} (Set B): a genie bound, not a baseline (with Set B = Set A it is the standard one)")

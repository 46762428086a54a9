"""``beamsim distill``: QuADD on a beam data set (``--data``) or an image set (``--dataset``).

The command resolves the options into a :class:`~beamsim.distill.DistillConfig`, loads the
data and hands both to :func:`beamsim.distill.distill_file`, the one library call that
distils a file (the studies call it too).
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import (DEFAULT_ENCODING_NAME, AllocationName, DatasetName, DeviceOpt, Encoding, InitName, JsonOpt, Objective, ParamName,
                                  QuantizerName, SeedOpt, value)
from beamsim.cli._output import print_json, print_table, stderr

__all__ = ["distill_cmd"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


@app.command("distill")
def distill_cmd(
    data: Annotated[Optional[Path], typer.Option("--data", help="Beam data set written by `beamsim generate` (default: data/umi.h5).")] = None,
    dataset: Annotated[DatasetName, typer.Option("--dataset", help="A beam data set (--data) or an image set (--data-root).")] = DatasetName.beam,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", help="Image folder: CIFAR 'python version' folders, or DIR/train/<class>/, DIR/val/<class>/.")] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", help="Side of the images (imagefolder; default 128).")] = None,
    zca: Annotated[Optional[bool], typer.Option("--zca/--no-zca", help="ZCA whitening of images (default: on for cifar/imagefolder, off for digits).")] = None,
    spc: Annotated[Optional[int], typer.Option("--spc", "--ipc", help="Synthetic samples (images) per class.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Network of the objective (default: beamcnn; convnet3 for images up to 64 px, convnet5 above).")] = None,
    bits: Annotated[Optional[int], typer.Option("--bits", help="Bits per element, 1..8 (32 with --quantizer none).")] = None,
    objective: Annotated[Optional[Objective], typer.Option("--objective", help="Distillation objective, or none for a coreset (default: tm for beam data, dm for images).")] = None,
    quantizer: Annotated[Optional[QuantizerName], typer.Option("--quantizer", help="In the loop (apot, uniform, fsq), once at the end (ptq) or float32 (none).")] = None,
    init: Annotated[Optional[InitName], typer.Option("--init", help="How the synthetic set starts.")] = None,
    allocation: Annotated[Optional[AllocationName], typer.Option("--allocation", help="Samples per class: spc for every class (fixed), or the same total shared in proportion to the class sizes (proportional).")] = None,
    param: Annotated[Optional[ParamName], typer.Option("--param", help="How a sample is stored: itself (none), FreD's DCT coefficients (fred; quantized by --quantizer, or float32 with --quantizer none) or AutoPalette index maps and palettes (palette).")] = None,
    coefficients: Annotated[Optional[int], typer.Option("--coefficients", help="FreD: DCT coefficients kept per channel (default: a quarter of H x W).")] = None,
    colors: Annotated[Optional[int], typer.Option("--colors", help="AutoPalette: palette size K, a power of two in 2..256 (default 16).")] = None,
    replacement: Annotated[Optional[bool], typer.Option("--replacement/--no-replacement",
                                                        help="Repeat samples of classes with fewer than spc.")] = None,
    iterations: Annotated[Optional[int], typer.Option("--iterations", help="Distillation iterations.")] = None,
    soft_labels: Annotated[Optional[bool], typer.Option("--soft-labels/--hard-labels", help="Learn a soft label per sample (trajectory matching) and store its top classes in a few bits, counted in the file's bits (default: hard labels, free).")] = None,
    label_topk: Annotated[Optional[int], typer.Option("--label-topk", help="Soft labels: classes stored per sample (default 4).")] = None,
    label_bits: Annotated[Optional[int], typer.Option("--label-bits", help="Soft labels: bits per stored class weight, 1..8 (default 4).")] = None,
    patience: Annotated[Optional[int], typer.Option("--patience", help="Stop once this many validations in a row have not beaten the best (0 = run every iteration).")] = None,
    encoding: Annotated[Optional[Encoding], typer.Option("--encoding", help=f"Beam-map input encoding (default: {DEFAULT_ENCODING_NAME}).")] = None,
    experts: Annotated[Optional[int], typer.Option("--experts", help="Expert trajectories (tm).")] = None,
    expert_epochs: Annotated[Optional[int], typer.Option("--expert-epochs", help="Epochs each expert trains (tm).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding distill defaults.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: <data dir>/distilled/...).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Expert cache (default: ~/.cache/beamsim/experts).")] = None,
    eval_runs: Annotated[int, typer.Option("--eval-runs", help="Evaluate the result with this many runs (0 = no).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint beside --out.")] = False,
    history: Annotated[Optional[Path], typer.Option("--history", help="Write one CSV row per iteration (loss, gradient norm, student step size, validation, thresholds).")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Distil a beam data set or an image set into a few-bit synthetic set (QuADD) and write the packed file."""
    from beamsim.config import resolve_device
    from beamsim.distill.config import resolve_config
    from beamsim.distill.naming import default_image_output, default_output
    from beamsim.distill.pipeline import distill_file
    from beamsim.distill.provenance import Provenance
    from beamsim.fileio import check_writable

    dataset, objective, quantizer, init = value(dataset), value(objective), value(quantizer), value(init)
    param = value(param)
    if param == "palette" and quantizer is None:
        quantizer = "none"  # the palette is its own quantizer
    for given, flag, needs in ((coefficients, "--coefficients", "fred"), (colors, "--colors", "palette")):
        if given is not None and param != needs:
            raise ValueError(f"{flag} applies to --param {needs}")
    encoding = value(encoding)
    image = dataset != "beam"
    if image:
        for given, flag in ((data, "--data"), (encoding, "--encoding")):
            if given is not None:
                raise ValueError(f"{flag} applies to beam data sets; --dataset {dataset} reads --data-root")
    else:
        for given, flag in ((data_root, "--data-root"), (image_size, "--image-size"), (zca, "--zca/--no-zca")):
            if given is not None:
                raise ValueError(f"{flag} applies to image sets (--dataset digits|cifar10|cifar100|imagefolder)")
        from beamsim.dataset import DEFAULT_ENCODING

        encoding = encoding if encoding is not None else DEFAULT_ENCODING
        data = data if data is not None else Path("data/umi.h5")
    if eval_runs < 0:
        raise ValueError("--eval-runs must be >= 0")
    spec = None
    if image:
        from beamsim.distill.data.spec import DSA_STRATEGY, ImageSpec, default_model

        spec = ImageSpec(dataset, data_root=str(data_root) if data_root is not None else "",  # type: ignore[arg-type]
                         image_size=image_size, zca=zca)
        modality, defaults = "image", {"model": default_model(spec.image_size), "dsa_strategy": DSA_STRATEGY[dataset]}
    else:
        modality, defaults = "beam", {}
    overrides = dict(spc=spc, objective=objective, quantizer=quantizer, init=init, replacement=replacement,
                     iterations=iterations, num_experts=experts, expert_epochs_train=expert_epochs, model=model,
                     param=param, coefficients=coefficients, colors=colors, allocation=value(allocation),
                     val_patience=patience, soft_labels=soft_labels, label_topk=label_topk, label_bits=label_bits)
    if quantizer == "none" and bits is None:
        overrides["bits"] = 32
    elif bits is not None:
        overrides["bits"] = bits
    cfg = resolve_config(modality, config, defaults, **overrides)
    if (label_topk is not None or label_bits is not None) and not cfg.labels.soft:
        raise ValueError("--label-topk and --label-bits apply to --soft-labels")
    if cfg.objective == "none":
        cfg = cfg.replace(iterations=0)
    dev = resolve_device(device)
    if spec is not None:
        from beamsim.distill.data.spec import load_image_data

        images = load_image_data(spec, device=dev)
        train = images.train
        source = spec.source
        out = check_writable(out if out is not None else default_image_output(dataset, cfg))
        provenance = Provenance(source_sha256=images.checksum, source_path=spec.data_root, source_samples=len(train))
        class_names, extra_settings = images.class_names, {"dataset": images.settings()}
    else:
        from beamsim.dataset import BeamDataset
        from beamsim.sequences import is_sequence_file

        if is_sequence_file(data):  # BM-Case2: one sample per track, labelled at the first horizon
            from beamsim.experiments.sequence_eval import first_horizon, horizon_sets

            horizon = first_horizon(data)
            train = horizon_sets(data, horizon, encoding)[0]
            checksum, extra_settings = train.source_sha256, {"horizon": horizon}
        else:
            train = BeamDataset(data, "train", encoding=encoding)
            checksum, extra_settings = train.checksum, None
        source = str(data)
        out = check_writable(out if out is not None else default_output(data, cfg))
        provenance = Provenance(source_sha256=checksum, source_path=str(data), source_samples=len(train),
                                encoding=encoding)
        class_names = None
    if history is not None:
        check_writable(history)

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("[bold]distill"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.4g}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with ExitStack() as stack:
        bars: list = []  # the bar starts with the work, after the checks (a refused run draws none)

        def progress(done: int, total: int, info: dict) -> None:
            if not bars:
                bar = stack.enter_context(Progress(*columns, console=stderr, disable=json_output))
                bars.append((bar, bar.add_task("distill", total=max(cfg.iterations, 1), loss=math.nan)))
            bar, task = bars[0]
            bar.update(task, completed=done, loss=info.get("loss", math.nan))

        run = distill_file(train, out, cfg, seed=seed, device=dev, cache_dir=cache_dir, provenance=provenance,
                           class_names=class_names, extra_settings=extra_settings, history=history, resume=resume,
                           on_mismatch="raise", progress=progress,
                           log=lambda line: stderr.print(line, markup=False, highlight=False, soft_wrap=True))
    quadd, described, out = run.quadd, run.described, run.path
    doc = {
        "path": str(out), "dataset": dataset, "model": cfg.model,
        "objective": cfg.objective, "quantizer": cfg.quantizer.name, "bits": cfg.quantizer.bits, "spc": cfg.spc, "init": cfg.init,
        **({"param": cfg.param.name} if cfg.param.name != "none" else {}),
        **({"allocation": cfg.allocation} if cfg.allocation != "fixed" else {}),
        "replacement": cfg.replacement, "iterations": cfg.iterations,
        **({"patience": cfg.validation.patience, "iterations_run": quadd.iterations_run_}
           if cfg.validation.patience else {}),
        **({"soft_labels": {"top_k": cfg.labels.top_k, "bits": cfg.labels.bits,
                            "label_bits_stored": described.get("label_bits_stored")}} if cfg.labels.soft else {}),
        **({"encoding": encoding} if not image else {"zca": spec.zca, "image_size": spec.image_size}),
        "samples": int(quadd.labels_.numel()),
        "payload_bits": described.get("payload_bits"),
        "payload_bits_stored": described.get("payload_bits_stored"),
        "file_bytes": described.get("file_bytes"),
        "compression_ratio": described.get("compression_ratio"),
        "best_iteration": quadd.best_iteration_,
        **({"history": str(history)} if history is not None else {}),
        "validation": [{"iteration": i, "top1": a} for i, a in quadd.validation_],
        "timings_s": {k: round(v, 2) for k, v in quadd.timings_.items()},
        "wall_s": round(run.seconds, 2),
        "device": str(dev),
    }
    result = None
    if eval_runs:
        from beamsim.experiments.evaluate import evaluate

        result = evaluate(out, runs=eval_runs, device=dev, seed=seed)
        doc["evaluation"] = result.to_dict()
    if json_output:
        print_json(doc)
        return
    rows = [(k, v) for k, v in doc.items() if k not in ("validation", "evaluation")]
    print_table("distilled", ["field", "value"], rows)
    if result is not None:
        rows = [(k, f"{v['mean']:.4f} ± {v['std']:.4f}") for k, v in result.summary.items()]
        print_table(f"evaluation: {result.runs} runs, {result.epochs} epochs, {result.model}, test split of {source}",
                    ["kpi", "mean ± std"], rows)

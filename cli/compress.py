"""``beamsim compress``: patch-wise post-training quantization of a finished distilled set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import DeviceOpt, JsonOpt, SeedOpt
from beamsim.cli._output import print_json, print_table, stderr

__all__ = ["compress_cmd", "default_output", "parse_groups"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


def parse_groups(text: str) -> int | str:
    """``"auto"`` or a positive integer.

    >>> parse_groups("auto"), parse_groups("64")
    ('auto', 64)
    """
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--groups must be auto or a positive integer, not {text!r}")
    return value


def default_output(path: Path, bits: int, entropy: bool) -> Path:
    """``<input stem>-ptq<bits>[-rc].h5`` beside the input."""
    return path.with_name(f"{path.stem}-ptq{bits}{'-rc' if entropy else ''}.h5")


@app.command("compress")
def compress_cmd(
    file: Annotated[Path, typer.Argument(help="A distilled file (beamsim distill): float32 or packed codes.")],
    bits: Annotated[Optional[int], typer.Option("--bits", help="Bits per code, 1..8 (default: 4 for maps up to 16x16 such as beam maps, 2 for larger images).")] = None,
    patch: Annotated[Optional[int], typer.Option("--patch", help="Patch size (default: 2 up to 16x16 maps, else 5).")] = None,
    groups: Annotated[str, typer.Option("--groups", help="Parameter groups: auto (largest that fits) or a count.")] = "auto",
    budget_bytes: Annotated[Optional[int], typer.Option("--budget-bytes", help="Payload budget in bytes (default: the float32 input set, N x d x 4).")] = None,
    refine: Annotated[bool, typer.Option("--refine/--no-refine", help="Quantization-aware refinement before grouping.")] = True,
    entropy: Annotated[bool, typer.Option("--entropy/--no-entropy", help="Range-code the codes.")] = True,
    extra: Annotated[bool, typer.Option("--extra/--no-extra", help="Fill the budget with real samples of the source data set.")] = True,
    source: Annotated[Optional[Path], typer.Option("--source", help="Beam data set for the extra samples (default: the file's source_path).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: <input stem>-ptq<bits>-rc.h5 beside the input).")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Compress a distilled set with patch-wise quantization (PAQ/GAQ), refinement and range coding,
    spending the saved bytes on more samples."""
    from beamsim.config import resolve_device
    from beamsim.distill.compress import CompressConfig, compress_file
    from beamsim.distill.container import describe
    from beamsim.experiments.extra_rows import extra_rows

    cfg = CompressConfig(bits=bits, patch=patch, groups=parse_groups(groups), budget_bytes=budget_bytes,
                         refine=refine, entropy=entropy)
    if out is None:  # named after the bits, chosen for the maps' size when not given
        shape = describe(file)["input_shape"]
        out = default_output(file, cfg.resolve(int(shape[-2]), int(shape[-1])).bits, entropy)
    dev = resolve_device(device)
    say = None if json_output else stderr.print
    start = time.perf_counter()
    rows = extra_rows(file, source, warn=say) if extra else None
    comp, described = compress_file(file, out, cfg, extra_rows=rows, seed=seed, device=dev, progress=say)
    wall = time.perf_counter() - start
    sizes = comp.sizes_
    d = int(comp.quantized_.layout.elements)
    samples = int(comp.labels_.numel())
    history = comp.refine_history_
    doc = {
        "path": str(out),
        "input": str(file),
        "codec": comp.codec_,
        "entropy": "range" if entropy else "none",
        "bits": comp.config_.bits,
        "patch": list(comp.quantized_.layout.patch),
        "groups": comp.groups_,
        "samples_per_class": comp.samples_per_class_,
        "samples": samples,
        "input_samples": comp.input_samples_,
        "distilled_rows": comp.distilled_rows_,
        "extra_rows": comp.extra_rows_,
        "budget_bytes": comp.budget_bytes_,
        "bytes": described["bytes"],
        "float32_bytes": samples * d * 4,
        "compression_ratio": round(samples * d * 4 / max(sizes.payload, 1), 3),
        "bits_per_element": described["bits_per_element"],
        "file_bytes": described["file_bytes"],
        "refine_loss": None if not history else {"before": history[0], "best": min(history)},
        "search_evaluations": comp.evaluations_,
        "wall_s": round(wall, 2),
        "device": str(dev),
    }
    if json_output:
        print_json(doc)
        return
    rows = [(k, v) for k, v in doc.items() if k != "bytes"]
    print_table("compressed", ["field", "value"], rows)
    print_table("bytes", ["part", "bytes"], list(doc["bytes"].items()))

"""``beamsim compress``: patch-wise post-training quantization of a finished distilled set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._app import app
from beamsim.cli._options import DeviceOpt, JsonOpt, SeedOpt
from beamsim.cli._output import print_json, print_table, stderr

__all__ = ["compress_cmd", "default_output", "parse_groups"]


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


def _extra_rows(attrs: dict, source: Optional[Path], channels: int, quiet: bool):
    """Real rows for the budget's extra samples: from ``source`` or the file's ``source_path``."""
    from beamsim.distill.container import format_of
    from beamsim.distill.ptq.budget import extra_rows_from_source

    if source is None:
        recorded = str(attrs.get("source_path") or "")
        if not recorded:
            if not quiet:
                stderr.print("no source data set recorded in the file: only its own rows can be kept")
            return None, None
        if not Path(recorded).is_file():
            if not quiet:
                stderr.print(f"source data set {recorded} not found: only the file's own rows can be kept "
                             "(give --source)")
            return None, None
        source = Path(recorded)
    fmt = format_of(source)
    if fmt != "beamsim.dataset":
        from beamsim.errors import DataFileError

        raise DataFileError(f"{source}: extra samples come from a beam data set (format 'beamsim.dataset'), "
                            f"found {fmt!r}; use --no-extra")
    return extra_rows_from_source(str(source), str(attrs.get("encoding") or ""), channels=channels)



def _carried_settings(attrs: dict) -> dict:
    """The input's image data-set record and distill config, so ``evaluate`` finds its test set."""
    import tomllib

    try:
        settings = tomllib.loads(str(attrs.get("settings") or ""))
    except tomllib.TOMLDecodeError:
        return {}
    return {key: settings[key] for key in ("dataset", "config") if isinstance(settings.get(key), dict)}

@app.command("compress")
def compress_cmd(
    file: Annotated[Path, typer.Argument(help="A distilled file (beamsim distill): float32 or packed codes.")],
    bits: Annotated[int, typer.Option("--bits", help="Bits per code, 1..8.")] = 2,
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
    from beamsim.config import make_generator, resolve_device
    from beamsim.distill.container import read
    from beamsim.distill.ptq import CompressConfig, PatchCompressor
    from beamsim.fileio import check_writable

    cfg = CompressConfig(bits=bits, patch=patch, groups=parse_groups(groups), budget_bytes=budget_bytes,
                         refine=refine, entropy=entropy)
    data = read(file)
    out = check_writable(out if out is not None else default_output(file, bits, entropy))
    if out.resolve() == file.resolve():
        raise ValueError(f"--out {out} is the input file; write the compressed set elsewhere")
    dev = resolve_device(device)
    x, y, attrs = data.x.float(), data.y, data.attrs
    extra_x = extra_y = None
    if extra:
        extra_x, extra_y = _extra_rows(attrs, source, int(x.shape[1]) if x.ndim == 4 else 0, json_output)
    start = time.perf_counter()
    if not json_output:
        stderr.print(f"compressing {x.shape[0]} samples at {bits} bits "
                     f"({0 if extra_x is None else len(extra_x)} real rows in reserve) ...")
    comp = PatchCompressor(cfg, device=dev, generator=make_generator(seed)).fit(
        x, y, num_classes=int(attrs.get("num_classes", 0)) or None, extra_x=extra_x, extra_y=extra_y)
    source_samples = attrs.get("source_samples", -1)
    described = comp.save(out, class_names=attrs.get("class_names"), source_sha256=attrs.get("source_sha256", ""),
                          source_path=attrs.get("source_path", ""), encoding=attrs.get("encoding", ""),
                          source_samples=None if source_samples in (None, -1) else int(source_samples),
                          objective=attrs.get("objective", ""), seed=seed,
                          settings={"input": str(file), "input_samples": int(x.shape[0]),
                                    "input_codec": attrs.get("codec") or attrs.get("quantizer", ""),
                                    "input_bits": int(attrs.get("bits", 0)), **_carried_settings(attrs)})
    wall = time.perf_counter() - start
    sizes = comp.sizes_
    d = int(x[0].numel())
    samples = int(comp.labels_.numel())
    history = comp.refine_history_
    doc = {
        "path": str(out),
        "input": str(file),
        "codec": comp.codec_,
        "entropy": "range" if entropy else "none",
        "bits": bits,
        "patch": list(comp.quantized_.layout.patch),
        "groups": comp.groups_,
        "samples_per_class": comp.samples_per_class_,
        "samples": samples,
        "input_samples": int(x.shape[0]),
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

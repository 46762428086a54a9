"""``beamsim bench quant``: APoT forward+backward time against an identity pass."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from beamsim.cli._options import DeviceOpt, JsonOpt
from beamsim.cli.bench import bench_app, report

__all__ = ["quant"]

ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for torch (default: as set).")]


@bench_app.command("quant")
def quant(
    json_output: JsonOpt = False,
    device: DeviceOpt = "auto",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed passes per variant (median reported).")] = 20,
    bits: Annotated[int, typer.Option("--bits", min=1, max=8, help="Quantizer bits.")] = 6,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, help="Samples of [1, 8, 8] in the input.")] = 3200,
    threads: ThreadsOpt = None,
) -> None:
    """APoT forward+backward time on a [samples, 1, 8, 8] tensor vs a plain identity pass (same run)."""
    from beamsim.distill.bench import bench_quant

    doc = bench_quant(device=device, repeats=repeats, bits=bits, shape=(samples, 1, 8, 8), threads=threads)
    report(doc, json_output, "bench quant")

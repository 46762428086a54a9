"""``beamsim bench generate | distill | quant``: speed benchmarks with JSON output (never timed assertions in tests)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from beamsim.cli._options import DEFAULT_ENCODING_NAME, DeviceOpt, Encoding, JsonOpt, SeedOpt, StudyObjective, value
from beamsim.cli._output import print_json, print_table

__all__ = ["app", "report"]

#: ``beamsim bench ...`` (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer(help="Speed benchmarks (JSON with --json).", no_args_is_help=True)

ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for torch (default: as set).")]


def report(doc: dict, json_output: bool, title: str) -> None:
    """Print a benchmark result: one JSON document, or a two-column table."""
    if json_output:
        print_json(doc)
    else:
        print_table(title, ["metric", "value"], [(k, v) for k, v in doc.items()])


@app.command("generate")
def bench_generate(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario to time.")] = "umi",
    samples: Annotated[int, typer.Option("--samples", "-n", help="Samples to simulate.")] = 4096,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Samples/s of the full generate pipeline vs Sionna's bare channel call on the same batches."""
    from beamsim.experiments.bench import bench_generate as run

    report(run(scenario, samples=samples, seed=seed, device=device), json_output, "bench generate")


@app.command("distill")
def bench_distill_cmd(
    data: Annotated[str, typer.Option("--data", help="Beam data set (its train split is distilled).")] = "data/umi.h5",
    objective: Annotated[StudyObjective, typer.Option("--objective", help="Distillation objective.")] = StudyObjective.tm,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Timed iterations per run.")] = 10,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Alternating runs of each variant.")] = 2,
    spc: Annotated[int, typer.Option("--spc", min=1, help="Synthetic samples per class.")] = 50,
    bits: Annotated[int, typer.Option("--bits", min=1, max=8, help="Quantizer bits.")] = 6,
    encoding: Annotated[Optional[Encoding], typer.Option("--encoding", help=f"Beam-map input encoding (default: {DEFAULT_ENCODING_NAME}).")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Also time a parameterized run: fred (float32 DCT coefficients), qfred (QuADD + FreD) or palette (AutoPalette); repeatable.")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Seconds per QuADD iteration (APoT in the loop) vs the same run unquantized (and parameterized runs); peak memory."""
    from beamsim.dataset import DEFAULT_ENCODING, BeamDataset
    from beamsim.distill.bench import bench_distill
    from beamsim.distill.config import default_config

    train = BeamDataset(data, "train", encoding=value(encoding) or DEFAULT_ENCODING)
    doc = bench_distill(train, objective=value(objective), iterations=iterations, bits=bits, repeats=repeats,
                        device=device, seed=seed, config=default_config("beam", spc=spc, objective=value(objective)),
                        params=tuple(dict.fromkeys(param or ())))
    doc["data"] = data
    report(doc, json_output, "bench distill")


@app.command("quant")
def bench_quant_cmd(
    json_output: JsonOpt = False,
    device: DeviceOpt = "auto",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed passes per variant (median reported).")] = 20,
    bits: Annotated[int, typer.Option("--bits", min=1, max=8, help="Quantizer bits.")] = 6,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, help="Samples of [1, 8, 8] in the input.")] = 3200,
    threads: ThreadsOpt = None,
) -> None:
    """APoT forward+backward time on a (samples, 1, 8, 8) tensor vs a plain identity pass (same run)."""
    from beamsim.distill.bench import bench_quant

    doc = bench_quant(device=device, repeats=repeats, bits=bits, shape=(samples, 1, 8, 8), threads=threads)
    report(doc, json_output, "bench quant")

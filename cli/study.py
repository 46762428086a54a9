"""``beamsim study ...``: resumable grids of distillations and evaluations (CSV, JSON, PNG).

Each command writes into ``--out`` (default ``runs/study-<name>``): one CSV per table, one
PNG per figure, one JSON document with everything, and ``points/`` with each finished
point (JSON) and its distilled file. A rerun skips finished points. One progress line per
point on stderr; a summary table on stdout, or one JSON document with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from beamsim.cli._options import (DEFAULT_ENCODING_NAME, AddressOpt, CpusPerTaskOpt, DeviceOpt, Encoding, Executor,
                                  ExecutorOpt, GridQuantizer, JsonOpt, SeedOpt, StudyObjective, value)
from beamsim.cli._output import print_json, print_table, stderr, stdout

__all__ = ["app"]

#: ``beamsim study ...`` (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer(help="Studies: rate-distortion, imbalance, baselines (resumable; CSV, JSON, PNG).",
                  no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", help="Beam data set written by `beamsim generate`.")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: runs/study-<name>).")]
RunsOpt = Annotated[int, typer.Option("--runs", help="Evaluation runs per point (mean ± std).")]
IterationsOpt = Annotated[Optional[int], typer.Option("--iterations", help="Distillation iterations (default: the distill config's).")]
ObjectiveOpt = Annotated[Optional[StudyObjective], typer.Option("--objective", help="Distillation objective (default: the distill config's).")]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", help="Evaluation epochs (default: by training-set size).")]
EncodingOpt = Annotated[Optional[Encoding], typer.Option("--encoding", help=f"Beam-map input encoding (default: {DEFAULT_ENCODING_NAME}).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding the distill defaults.")]
CacheDirOpt = Annotated[Optional[Path], typer.Option("--cache-dir", help="Expert cache (default: ~/.cache/beamsim/experts).")]
QuantizerOpt = Annotated[GridQuantizer, typer.Option("--quantizer", help="Quantizer of the grid.")]


def _settings(name: str, data: Path, out: Path | None, runs: int, iterations: int | None, objective: str | None,
              epochs: int | None, encoding: str, config: Path | None, cache_dir: Path | None, seed: int,
              device: str, executor: Executor = Executor.serial, address: str | None = None, cpus_per_task: int = 1):
    from beamsim.distill.config import resolve_config
    from beamsim.experiments.studies.settings import StudySettings

    from beamsim.dataset import DEFAULT_ENCODING

    objective, encoding = value(objective), value(encoding) or DEFAULT_ENCODING
    base = resolve_config("beam", config, objective=objective) if config is not None else None
    return StudySettings(data=data, out=out if out is not None else Path("runs") / f"study-{name}", runs=runs,
                         epochs=epochs, iterations=iterations, objective=objective, encoding=encoding, config=base,
                         seed=seed, device=device, cache_dir=cache_dir, executor=value(executor), address=address,
                         cpus_per_task=cpus_per_task)


def _progress(text: str) -> None:
    stderr.print(text, markup=False, highlight=False, soft_wrap=True)


def _pct(row: dict, kpi: str) -> str:
    return f"{100 * row[f'{kpi}_mean']:.2f} ± {100 * row[f'{kpi}_std']:.2f}"


def _bits(value: Any) -> str:
    from beamsim.experiments.studies.plots import format_bits

    return format_bits(value)


def _ratio(value: Any) -> str:
    return "" if value is None else f"{value:,.1f}x"


def _report(result, json_output: bool, columns: list[tuple[str, Any]], table: str) -> None:
    """One JSON document, or the summary table(s) on stdout and the written files on stderr."""
    if json_output:
        print_json(result.to_dict())
        return
    rows = result.tables[table]
    print_table(f"{result.study}: {len(rows)} points ({result.cached} cached, {result.computed} computed), "
                f"{result.settings['runs']} run(s) each, data {result.settings['data']}",
                [name for name, _ in columns], [[fn(row) for _, fn in columns] for row in rows])
    for path in result.files:
        stderr.print(f"wrote {path}", markup=False, highlight=False)


_TOP1 = ("top-1 %", lambda r: _pct(r, "top1"))
_TOP3 = ("top-3 %", lambda r: _pct(r, "top3"))
_F1 = ("macro F1 %", lambda r: _pct(r, "macro_f1"))
_CACHED = ("cached", lambda r: "yes" if r["cached"] else "no")


@app.command("rate-distortion")
def rate_distortion_cmd(
    spc: Annotated[str, typer.Option("--spc", help="Samples per class, comma-separated.")] = "10,50",
    bits: Annotated[str, typer.Option("--bits", help="Bits per element (1..8), comma-separated.")] = "2,3,4,6,8",
    include_full: Annotated[bool, typer.Option("--include-full", help="Also evaluate the full training split at 32 bits and quantized to 8 (reference lines).")] = False,
    quantizer: QuantizerOpt = GridQuantizer.apot,
    data: DataOpt = Path("data/umi.h5"),
    out: OutOpt = None,
    runs: RunsOpt = 3,
    iterations: IterationsOpt = None,
    objective: ObjectiveOpt = None,
    epochs: EpochsOpt = None,
    encoding: EncodingOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    executor: ExecutorOpt = Executor.serial,
    address: AddressOpt = None,
    cpus_per_task: CpusPerTaskOpt = 1,
    json_output: JsonOpt = False,
) -> None:
    """Top-1 against total payload bits over a grid of spc x bits, and the best configuration per budget."""
    from beamsim.experiments.studies.rate_distortion import rate_distortion_study
    from beamsim.experiments.studies.settings import parse_int_list

    spcs, bit_list = parse_int_list(spc, "--spc", 1), parse_int_list(bits, "--bits", 1, 8)
    settings = _settings("rate-distortion", data, out, runs, iterations, objective, epochs, encoding, config,
                         cache_dir, seed, device, executor, address, cpus_per_task)
    result = rate_distortion_study(settings, spc=spcs, bits=bit_list, quantizer=value(quantizer), include_full=include_full,
                                   progress=_progress)
    columns = [("point", lambda r: r["name"]), ("spc", lambda r: r["spc"] if r["spc"] is not None else "all"),
               ("bits", lambda r: r["bits"]), ("samples", lambda r: f"{r['num_samples']:,}"),
               ("payload", lambda r: _bits(r["payload_bits"])), ("ratio", lambda r: _ratio(r["compression_ratio"])),
               _TOP1, _F1, ("best for budget", lambda r: "*" if r.get("sweet_spot") else ""), _CACHED]
    _report(result, json_output, columns, "rate_distortion")
    if not json_output:
        spots = result.tables["sweet_spots"]
        print_table("best configuration per budget (highest top-1 with payload <= budget)",
                    ["budget", "best", "spc", "bits", "payload", "top-1 %"],
                    [(s["budget"], s["name"] or "-", s["spc"], s["bits"], _bits(s["payload_bits"]),
                      f"{100 * s['top1_mean']:.2f} ± {100 * s['top1_std']:.2f}" if s["name"] else "-")
                     for s in spots])


@app.command("imbalance")
def imbalance_cmd(
    spc: Annotated[int, typer.Option("--spc", help="Samples per class.")] = 50,
    bits: Annotated[str, typer.Option("--bits", help="Bits per element (1..8), comma-separated.")] = "4,6,8",
    quantizer: QuantizerOpt = GridQuantizer.apot,
    data: DataOpt = Path("data/umi.h5"),
    out: OutOpt = None,
    runs: RunsOpt = 3,
    iterations: IterationsOpt = None,
    objective: ObjectiveOpt = None,
    epochs: EpochsOpt = None,
    encoding: EncodingOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    executor: ExecutorOpt = Executor.serial,
    address: AddressOpt = None,
    cpus_per_task: CpusPerTaskOpt = 1,
    json_output: JsonOpt = False,
) -> None:
    """Initialisation with vs. without replacement for classes short of spc: top-1 and macro F1 against bits."""
    from beamsim.experiments.studies.imbalance import imbalance_study
    from beamsim.experiments.studies.settings import parse_int_list

    if spc < 1:
        raise ValueError(f"--spc must be >= 1, not {spc}")
    bit_list = parse_int_list(bits, "--bits", 1, 8)
    settings = _settings("imbalance", data, out, runs, iterations, objective, epochs, encoding, config, cache_dir,
                         seed, device, executor, address, cpus_per_task)
    result = imbalance_study(settings, spc=spc, bits=bit_list, quantizer=value(quantizer), progress=_progress)
    columns = [("bits", lambda r: r["bits"]), ("replacement", lambda r: "with" if r["replacement"] else "without"),
               ("samples", lambda r: f"{r['num_samples']:,}"), ("payload", lambda r: _bits(r["payload_bits"])),
               _TOP1, _TOP3, _F1, _CACHED]
    _report(result, json_output, columns, "imbalance")
    if not json_output:
        stdout.print(result.report["message"], markup=False, highlight=False)


@app.command("baselines")
def baselines_cmd(
    spc: Annotated[int, typer.Option("--spc", help="Samples per class of coresets and distillations.")] = 50,
    bits: Annotated[int, typer.Option("--bits", help="Bits per element of the quantized distillations (2..8).")] = 6,
    methods: Annotated[Optional[str], typer.Option("--methods", help="Comma-separated subset of the rows (default: all).")] = None,
    data: DataOpt = Path("data/umi.h5"),
    out: OutOpt = None,
    runs: RunsOpt = 3,
    iterations: IterationsOpt = None,
    objective: ObjectiveOpt = None,
    epochs: EpochsOpt = None,
    encoding: EncodingOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    executor: ExecutorOpt = Executor.serial,
    address: AddressOpt = None,
    cpus_per_task: CpusPerTaskOpt = 1,
    json_output: JsonOpt = False,
) -> None:
    """Full data, coresets, distillation, PTQ and QuADD quantizers at one spc and bit width: table and figure."""
    from beamsim.experiments.studies.baselines import baselines_study
    from beamsim.experiments.studies.settings import parse_int_list

    (spc,) = parse_int_list([spc], "--spc", 1)
    (bits,) = parse_int_list([bits], "--bits", 2, 8)
    settings = _settings("baselines", data, out, runs, iterations, objective, epochs, encoding, config, cache_dir,
                         seed, device, executor, address, cpus_per_task)
    result = baselines_study(settings, spc=spc, bits=bits, methods=methods, progress=_progress)
    columns = [("method", lambda r: r["label"]), ("samples", lambda r: f"{r['num_samples']:,}"),
               ("payload", lambda r: _bits(r["payload_bits"])), ("ratio", lambda r: _ratio(r["compression_ratio"])),
               _TOP1, _TOP3, ("within 1 dB %", lambda r: _pct(r, "within_1db")), _F1, _CACHED]
    _report(result, json_output, columns, "baselines")

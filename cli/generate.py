"""``beamsim generate`` and ``beamsim merge``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import (AddressOpt, CpusPerTaskOpt, DeviceOpt, Executor, ExecutorOpt, JsonOpt, Mask, SeedOpt,
                                  Split, value)
from beamsim.cli._output import print_json, print_table, progress_bar, stderr

__all__ = ["generate_cmd", "merge_cmd"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


@app.command("generate")
def generate_cmd(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario name (see `beamsim scenarios`) or a TOML file.")] = "umi",
    samples: Annotated[Optional[int], typer.Option("--samples", "-n", help="Number of samples (default: the scenario's, 30,000 for umi).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output HDF5 file (default: data/<scenario>.h5).")] = None,
    mask: Annotated[Optional[Mask], typer.Option("--mask", help="fixed (checkerboard Set B) or random (per sample).")] = None,
    split: Annotated[Optional[Split], typer.Option("--split", help="random, or blocks (spatial 40 m blocks).")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run only shard i/n (0-based); join with `beamsim merge`.")] = None,
    executor: ExecutorOpt = Executor.serial,
    shards: Annotated[Optional[int], typer.Option("--shards", help="With --executor ray: K shards (default: one per CPU of the Ray cluster).")] = None,
    address: AddressOpt = None,
    cpus_per_task: CpusPerTaskOpt = 1,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json_output: JsonOpt = False,
) -> None:
    """Simulate a beam-management data set with Sionna and write one HDF5 file."""
    from beamsim.config import resolve_device
    from beamsim.scenarios import load_scenario
    from beamsim.fileio import check_writable
    from beamsim.simulation.generate import default_output, generate, parse_shard

    # validate every input before the progress bar starts
    if samples is not None and samples < 1:
        raise ValueError(f"--samples must be a positive integer, not {samples}")
    scn = load_scenario(scenario).with_overrides(samples=samples, mask=value(mask), split=value(split))
    shard_t = parse_shard(shard)
    if executor is Executor.ray:
        if shard_t is not None:
            raise ValueError("--shard runs one shard here; with --executor ray use --shards K for all of them")
        from beamsim.simulation.ray_generate import generate_on_ray

        out = check_writable(default_output(scn) if out is None else out)
        with progress_bar(f"generate {scn.name} on ray", total=scn.dataset.samples, enabled=not json_output) as advance:
            result = generate_on_ray(scn, out, shards=shards, address=address, seed=seed, device=device,
                                     cpus_per_task=cpus_per_task, progress=advance)
    else:
        if shards is not None or address is not None:
            raise ValueError("--shards and --address go with --executor ray")
        dev = resolve_device(device)
        out = check_writable(default_output(scn, shard_t) if out is None else out)
        label = f"generate {scn.name}" + (f" shard {shard}" if shard_t else "")
        with progress_bar(label, total=scn.dataset.samples, enabled=not json_output) as advance:
            result = generate(scn, out, seed=seed, device=dev, shard=shard_t, progress=advance)
    if json_output:
        print_json(result)
        return
    _print_summary(result)


def _print_summary(result: dict) -> None:
    rows = [(k, v) for k, v in result.items()]
    print_table("generated", ["field", "value"], rows)


@app.command("merge")
def merge_cmd(
    shards: Annotated[list[Path], typer.Argument(help="Shard files written by `beamsim generate --shard i/n`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Merged output file.")],
    json_output: JsonOpt = False,
) -> None:
    """Join the shard files of one run into one data set (identical to a single run)."""
    from beamsim.simulation.generate import merge

    result = merge(shards, out)
    if json_output:
        print_json(result)
        return
    stderr.print(f"merged {len(shards)} shard(s)")
    _print_summary(result)

"""``beamsim import``: beam data from elsewhere (testbed logs, other simulators) as a data-set file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import JsonOpt, SeedOpt, value
from beamsim.cli._output import print_json, print_table

__all__ = ["import_cmd", "MaskPattern"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


class MaskPattern(StrEnum):
    """``beamsim import --mask-pattern``: the Set B patterns of the scenarios
    (:data:`beamsim.exchange.MASK_PATTERNS`)."""

    checkerboard = "checkerboard"
    subset = "subset"
    random = "random"


@app.command("import")
def import_cmd(
    source: Annotated[Path, typer.Argument(help="Beam data to import: .npz, .h5/.hdf5 (arrays rsrp [N, rows, cols] or [N, K], optional mask, label, ue_pos, los, split, ...) or .csv (beam_<row>_<col> columns); see the docs page 'Import and export'.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Data-set file to write (default: data/<source stem>.h5).")] = None,
    grid: Annotated[Optional[str], typer.Option("--grid", help="ROWSxCOLS beam grid of a flat rsrp [N, K] (beam k = row * cols + col).")] = None,
    mask_pattern: Annotated[Optional[MaskPattern], typer.Option("--mask-pattern", help="Set B to apply, replacing the source's mask: checkerboard, subset (a lattice of --set-b-size beams) or random (--set-b-size beams per sample). Default: the source's mask, else every beam that is not NaN.")] = None,
    set_b_size: Annotated[Optional[int], typer.Option("--set-b-size", help="Beams measured by --mask-pattern subset or random (default: half the grid).")] = None,
    test_fraction: Annotated[Optional[float], typer.Option("--test-fraction", help="Test share of the split drawn when the source has none (default 0.2).")] = None,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
) -> None:
    """Convert measured or foreign beam data into a beamsim data-set file (info, evaluate, distill read it)."""
    from beamsim.exchange import import_beam_data, parse_grid

    doc = import_beam_data(source, out, grid=None if grid is None else parse_grid(grid),
                           mask_pattern=value(mask_pattern), set_b_size=set_b_size,  # type: ignore[arg-type]
                           test_fraction=test_fraction, seed=seed)
    if json_output:
        print_json(doc)
        return
    print_table("imported", ["field", "value"], list(doc.items()))

"""``beamsim export``: a data-set file's arrays as ``.npz`` (the layout ``beamsim import`` reads) or TFRecord."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import JsonOpt, value
from beamsim.cli._output import print_json, print_table

__all__ = ["export_cmd", "ExportFormat"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()

class ExportFormat(StrEnum):
    """``beamsim export --format``."""

    npz = "npz"
    tfrecord = "tfrecord"


@app.command("export")
def export_cmd(
    source: Annotated[Path, typer.Argument(help="A data-set file (beamsim generate or beamsim import).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="npz (the arrays, in the layout beamsim import reads) or tfrecord (needs beamsim\\[tf]).")] = ExportFormat.npz,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: <source stem>.npz or .tfrecord beside the source).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Write a data set's arrays to .npz (export then import gives identical arrays) or TFRecord."""
    kind = value(fmt)
    out = source.with_suffix(f".{kind}") if out is None else out
    if kind == "tfrecord":  # without TensorFlow, beamsim.tf says in one line what to install
        from beamsim.tf import export_tfrecord

        doc = export_tfrecord(source, out)
    else:
        from beamsim.exchange import export_npz

        doc = export_npz(source, out)
    if json_output:
        print_json(doc)
        return
    rows = [(k, ", ".join(map(str, v)) if isinstance(v, dict) else v)  # --json has the details
            for k, v in doc.items() if k != "arrays"]
    print_table("exported", ["field", "value"], rows)
    if isinstance(doc.get("arrays"), dict):
        print_table("arrays", ["array", "dtype and shape"], list(doc["arrays"].items()))

"""``beamsim export``: a data-set file's arrays as ``.npz`` (the layout ``beamsim import`` reads) or TFRecord."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import JsonOpt, value
from beamsim.cli._output import print_json, print_table

__all__ = ["export_cmd", "ExportFormat", "export_tfrecord"]

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()

#: What the one line says when TFRecord export cannot run here.
TF_MISSING = "TFRecord export needs TensorFlow and beamsim.tf: pip install beamsim[tf]"


class ExportFormat(StrEnum):
    """``beamsim export --format``."""

    npz = "npz"
    tfrecord = "tfrecord"


def export_tfrecord(source: Path, out: Path) -> dict:
    """:func:`beamsim.tf.export_tfrecord`, imported only now (TensorFlow is an optional extra).

    Raises:
        BeamsimError: ``beamsim.tf`` or TensorFlow is not installed (one line: what to install).
    """
    from beamsim.errors import BeamsimError

    def missing(exc: ImportError) -> bool:
        name = exc.name or ""
        return name == "beamsim.tf" or name.split(".")[0] in ("tensorflow", "tensorflow_cpu")

    try:
        from beamsim.tf import export_tfrecord as export
    except ImportError as exc:
        if not missing(exc):
            raise
        raise BeamsimError(TF_MISSING) from None
    try:
        return export(source, out)
    except ImportError as exc:  # beamsim.tf imports TensorFlow when it runs
        if not missing(exc):
            raise
        raise BeamsimError(TF_MISSING) from None


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
    if kind == "tfrecord":
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

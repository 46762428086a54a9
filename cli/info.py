"""``beamsim info FILE``: what a data-set or distilled file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from beamsim.cli._options import JsonOpt
from beamsim.cli._output import print_json, print_table, stderr, stdout

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


def _file_format(path: Path) -> str:
    from beamsim.dataset import read_attrs

    return str(read_attrs(path).get("format", ""))


@app.command("info")
def info_cmd(
    file: Annotated[Path, typer.Argument(help="A data-set file (beamsim generate) or a distilled file (beamsim distill).")],
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Folder for PNG plots (class histogram, example beam maps).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Describe a beamsim file: samples, splits, classes, bits."""
    from beamsim.errors import DataFileError

    fmt = _file_format(file)
    from beamsim.sequences import is_sequence_file

    if fmt == "beamsim.dataset" and is_sequence_file(file):
        from beamsim.sequences import read_sequences
        from beamsim.simulation.tracks import track_summary

        arrays, attrs = read_sequences(file)
        doc = {**track_summary(file, arrays), "scenario": str(attrs.get("scenario_name", "")),
               "period_ms": float(attrs["period_ms"]), "history": int(attrs["history"]),
               "horizons": [int(h) for h in attrs["horizons"]], "set_a": list(arrays.rsrp.shape[2:]),
               "sha256": str(attrs.get("sha256", ""))}
        if plot is not None:
            from beamsim.experiments.track_plots import plot_tracks

            doc["plots"] = [str(p) for p in plot_tracks(file, plot)]
        if json_output:
            print_json(doc)
        else:
            print_table(f"{file}", ["field", "value"], list(doc.items()))
        return
    if fmt == "beamsim.dataset":
        from beamsim.experiments.dataset_info import describe_dataset, plot_dataset

        doc = describe_dataset(file)
        if plot is not None:
            doc["plots"] = [str(p) for p in plot_dataset(file, plot)]
        if json_output:
            print_json(doc)
            return
        rows = [(k, v) for k, v in doc.items() if k not in ("class_counts",)]
        print_table(f"{file}", ["field", "value"], rows)
        counts = doc["class_counts"]
        e, a = doc["beam_grid"]
        grid = "\n".join(" ".join(f"{c:5d}" for c in counts[r * a:(r + 1) * a]) for r in range(e))
        layout = ("rows = BS beams, columns = UE receive beams" if doc.get("side") == "pair"
                  else "rows = elevation, top first; columns = azimuth")
        stderr.print(f"samples per best beam ({layout}):")
        print(grid)
        return
    if fmt == "beamsim.distilled":
        from beamsim.distill.container import describe

        doc = describe(file)
        if json_output:
            print_json(doc)
            return
        print_table(f"{file}", ["field", "value"], [(k, v) for k, v in doc.items() if k != "bytes"])
        if "label_topk" in doc:  # soft labels stored with the set
            stdout.print(f"soft labels: top-{doc['label_topk']} classes, {doc['label_bits']}-bit codes, "
                         f"{doc['label_bits_stored'] // doc['num_samples']} bits per sample "
                         f"({doc['label_bits_stored']:,} bits)")
        if "bytes" in doc:  # patch-quantized set (beamsim compress): where the bytes go
            print_table("bytes", ["part", "bytes"], list(doc["bytes"].items()))
        return
    found = f"format {fmt!r}" if fmt else "no 'format' attribute"
    raise DataFileError(f"{file}: not a beamsim file ({found}; expected 'beamsim.dataset' or 'beamsim.distilled')")

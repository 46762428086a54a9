"""Study figures (PNG, matplotlib Agg), each drawn from one JSON-ready data dict.

The dict is what the study writes into its JSON (``figures``), so every figure can be
checked, or redrawn, from data alone. Three kinds:

``lines``: curves with error bars, optional horizontal reference lines and highlighted
points::

    {"kind": "lines", "title": str, "xlabel": str, "ylabel": str, "xscale": "log" | "linear",
     "series": [{"label": str, "x": [..], "y": [..], "yerr": [..], "annotations": [str, ..]}],
     "references": [{"label": str, "y": float}],
     "highlight": {"label": str, "x": [..], "y": [..]}}            (optional)

(``"integer_x": true`` puts a tick at every x value.)

``panels``: side-by-side ``lines`` figures sharing the x axis::

    {"kind": "panels", "title": str, "panels": [<lines dict without "kind">, ...]}

``bars_line``: bars on a (log) left axis and a line with error bars on a second axis, one
category per x position (the compression-vs-accuracy figure)::

    {"kind": "bars_line", "title": str, "categories": [str, ..],
     "bars": {"label": str, "values": [..], "scale": "log" | "linear", "annotations": [str, ..]},
     "line": {"label": str, "values": [..], "yerr": [..]}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from beamsim.fileio import atomic_path

__all__ = ["draw_figure", "format_bits"]


def format_bits(bits: float | None) -> str:
    """A bit count for a label.

    >>> format_bits(1_228_800), format_bits(950), format_bits(50_331_648)
    ('1.23 Mbit', '950 bit', '50.3 Mbit')
    """
    if bits is None:
        return "?"
    for scale, unit in ((1e9, "Gbit"), (1e6, "Mbit"), (1e3, "kbit")):
        if bits >= scale:
            value = bits / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{bits:.0f} bit"


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png.tmp") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return path


def _finite(values) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _draw_lines(ax, data: Mapping[str, Any]) -> None:
    for series in data.get("series", []):
        x, y = _finite(series["x"]), _finite(series["y"])
        yerr = _finite(series["yerr"]) if series.get("yerr") is not None else None
        ax.errorbar(x, y, yerr=yerr, marker="o", capsize=3, label=series["label"])
        for xi, yi, text in zip(x, y, series.get("annotations") or []):
            if text and math.isfinite(xi) and math.isfinite(yi):
                ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(4, 5), fontsize=7)
    styles = ["--", ":", "-.", (0, (5, 1))]
    for i, ref in enumerate(data.get("references", [])):
        if ref.get("y") is not None:
            ax.axhline(float(ref["y"]), color="grey", linestyle=styles[i % len(styles)], linewidth=1.2,
                       label=ref["label"])
    high = data.get("highlight")
    if high and high.get("x"):
        ax.scatter(_finite(high["x"]), _finite(high["y"]), s=160, facecolors="none", edgecolors="black",
                   linewidths=1.2, label=high.get("label"), zorder=5)
    ax.set_xscale(data.get("xscale", "linear"))
    if data.get("integer_x"):
        ticks = sorted({float(v) for series in data.get("series", []) for v in series["x"] if v is not None})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", ""))
    if data.get("title"):
        ax.set_title(data["title"])
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")


def _draw_bars_line(fig: Figure, data: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    cats = list(data["categories"])
    pos = list(range(len(cats)))
    bars = data["bars"]
    values = _finite(bars["values"])
    ax.bar(pos, values, color="tab:blue", alpha=0.55, label=bars["label"])
    ax.set_yscale(bars.get("scale", "log"))
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if positive and bars.get("scale", "log") == "log":
        ax.set_ylim(min(positive) / 1.5, max(positive) * 6)  # room for the annotations
    ax.set_ylabel(bars["label"], color="tab:blue")
    for p, v, text in zip(pos, values, bars.get("annotations") or []):
        if text and math.isfinite(v) and v > 0:
            ax.annotate(text, (p, v), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7,
                        rotation=90, va="bottom")
    ax.set_xticks(pos)
    ax.set_xticklabels(cats, rotation=35, ha="right", fontsize=8)
    line = data["line"]
    twin = ax.twinx()
    twin.errorbar(pos, _finite(line["values"]), yerr=_finite(line["yerr"]) if line.get("yerr") else None,
                  color="tab:red", marker="o", linestyle="--", capsize=3, label=line["label"])
    twin.set_ylabel(line["label"], color="tab:red")
    handles = ax.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    # above the axes: inside, the line and the annotations would run over it
    twin.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], fontsize=8, loc="lower center",
                bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    if data.get("title"):
        ax.set_title(data["title"], pad=22)


def draw_figure(data: Mapping[str, Any], path: str | Path) -> Path:
    """Draw a figure data dict (see the module docstring) as a PNG, atomically.

    Raises:
        ValueError: an unknown ``kind``.
    """
    kind = data.get("kind")
    if kind == "lines":
        fig = Figure(figsize=(7.0, 4.6))
        _draw_lines(fig.add_subplot(), data)
    elif kind == "panels":
        panels = data["panels"]
        fig = Figure(figsize=(5.2 * len(panels), 4.4))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            _draw_lines(ax, panel)
        if data.get("title"):
            fig.suptitle(data["title"])
    elif kind == "bars_line":
        fig = Figure(figsize=(8.0, 5.0))
        _draw_bars_line(fig, data)
    else:
        raise ValueError(f"unknown figure kind {kind!r}: use lines, panels or bars_line")
    fig.tight_layout()
    return _save(fig, Path(path))

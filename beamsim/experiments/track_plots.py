"""Plots of a sequence file (``beamsim info TRACKS.h5 --plot DIR``): tracks and beam changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.sequences import beam_change_rate, read_sequences

__all__ = ["plot_tracks"]


def plot_tracks(path: str | Path, folder: str | Path, tracks: int = 12) -> list[Path]:
    """Write ``tracks.png`` (a few tracks in x/y around the BS, each instant coloured by its best
    Set A beam) and ``beam_change_rate.png`` (the share of consecutive instants whose best beam
    changes, per speed) to ``folder``.

    Returns:
        The written paths.
    """
    from matplotlib.figure import Figure

    from beamsim.experiments.plots import save_figure

    arrays, attrs = read_sequences(path)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n, t = arrays.rsrp.shape[:2]
    best = arrays.rsrp.reshape(n, t, -1).argmax(axis=2)
    beams = arrays.rsrp[0, 0].size
    written = []

    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    picked = np.linspace(0, n - 1, num=min(tracks, n)).astype(int)
    for i in picked:
        xy = arrays.ue_pos[i, :, :2]
        ax.plot(xy[:, 0], xy[:, 1], color="0.7", lw=0.8, zorder=1)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=best[i], cmap="viridis", vmin=0, vmax=beams - 1, s=14, zorder=2)
        ax.annotate(f"{arrays.speed[i] * 3.6:.0f} km/h", xy[-1], fontsize=7)
    ax.scatter([0], [0], marker="^", color="red", s=60, label="BS")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x [m] (relative to the BS)")
    ax.set_ylabel("y [m]")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{attrs.get('scenario_name', '')}: {len(picked)} tracks, {t} instants "
                 f"{float(attrs['period_ms']):g} ms apart, coloured by best beam")
    fig.colorbar(points, ax=ax, label="best Set A beam")
    fig.tight_layout()
    written.append(save_figure(fig, folder / "tracks.png"))

    change = beam_change_rate(arrays.rsrp)
    kmh = np.round(arrays.speed * 3.6, 1)
    speeds = np.unique(kmh)
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.bar([f"{v:g} km/h" for v in speeds], [100 * change[kmh == v].mean() for v in speeds], color="tab:blue")
    ax.set_ylabel("best beam changes between instants [%]")
    ax.set_title(f"beam-change rate per speed ({n:,} tracks)")
    fig.tight_layout()
    written.append(save_figure(fig, folder / "beam_change_rate.png"))
    return written


"""Plots of a sequence file (``beamsim info TRACKS.h5 --plot DIR``): tracks and beam changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.sequences import beam_change_rate, read_sequences

__all__ = ["plot_tracks"]


def plot_tracks(path: str | Path, folder: str | Path, tracks: int = 12) -> list[Path]:
    """Write ``tracks.png`` (a few tracks in x/y around the BS, each instant coloured by its best
    Set A beam, on the scene's buildings for a Sionna RT file) and ``beam_change_rate.png`` (the share of consecutive instants whose best beam
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

    fig = Figure(figsize=(7.0, 5.5))
    ax = fig.add_subplot()
    buildings = _buildings(attrs)
    if len(buildings):
        from matplotlib.collections import PolyCollection

        ax.add_collection(PolyCollection(buildings, facecolor="0.85", edgecolor="0.85", lw=0.3, zorder=0,
                                         label="buildings"))
    picked = np.linspace(0, n - 1, num=min(tracks, n)).astype(int)
    for i in picked:
        xy = arrays.ue_pos[i, :, :2]
        ax.plot(xy[:, 0], xy[:, 1], color="0.7", lw=0.8, zorder=1)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=best[i], cmap="viridis", vmin=0, vmax=beams - 1, s=14, zorder=2)
        ax.annotate(f"{arrays.speed[i] * 3.6:.0f} km/h", xy[-1], fontsize=7)
    ax.scatter([0], [0], marker="^", color="red", s=60, label="BS")
    if len(buildings):  # the map around the tracks, not the whole scene
        shown = arrays.ue_pos[picked, :, :2].reshape(-1, 2)
        low, high = np.minimum(shown.min(axis=0), 0.0) - 10.0, np.maximum(shown.max(axis=0), 0.0) + 10.0
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x [m] (relative to the BS)")
    ax.set_ylabel("y [m]")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{attrs.get('scenario_name', '')}: {len(picked)} tracks of {t} instants, "
                 f"{float(attrs['period_ms']):g} ms apart", fontsize=10)
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


def _buildings(attrs: dict) -> np.ndarray:
    """[m, 3, 2] the scene's buildings as x/y triangles relative to the BS, for a file made in a
    Sionna RT scene (empty for TR 38.901 files, or where Sionna RT cannot run)."""
    from beamsim.errors import BackendUnavailableError, ScenarioError
    from beamsim.scenarios import scenario_from_toml

    scenario = scenario_from_toml(str(attrs.get("scenario", "")), where="scenario of the file")
    if scenario.backend != "rt":
        return np.zeros((0, 3, 2))
    from beamsim.simulation.backends.rt_map import scene_footprints

    try:
        triangles = scene_footprints(scenario)
    except (BackendUnavailableError, ScenarioError):  # a map is a nicety: the tracks are drawn without it
        return np.zeros((0, 3, 2))
    return triangles - np.asarray(scenario.rt.tx_position[:2], dtype=np.float64)


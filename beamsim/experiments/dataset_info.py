"""What ``beamsim info`` says about a data-set file, and its plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.dataset import BeamArrays, read_dataset

__all__ = ["describe_dataset", "class_histogram", "plot_dataset"]


def class_histogram(arrays: BeamArrays) -> np.ndarray:
    """Samples per beam class. [E * A] int64."""
    return np.bincount(arrays.label.astype(np.int64), minlength=int(np.prod(arrays.rsrp.shape[1:])))


def describe_dataset(path: str | Path) -> dict:
    """Sample count, split sizes, class histogram summary, LoS share and RSRP range of a file."""
    arrays, attrs = read_dataset(path)
    counts = class_histogram(arrays)
    mask_share = float(arrays.mask.mean())
    doc = {
        "path": str(path),
        "format": attrs["format"],
        "scenario": attrs.get("scenario_name", ""),
        "seed": int(attrs.get("seed", 0)),
        "samples": len(arrays),
        "train": int((arrays.split == 0).sum()),
        "test": int((arrays.split == 1).sum()),
        "beam_grid": list(arrays.rsrp.shape[1:]),
        "mask": attrs.get("mask_kind", "fixed"),
        "measured_share": round(mask_share, 4),
        "classes": int(counts.size),
        "classes_present": int((counts > 0).sum()),
        "empty_classes": [int(i) for i in np.flatnonzero(counts == 0)],
        "class_min": int(counts.min()),
        "class_median": float(np.median(counts)),
        "class_max": int(counts.max()),
        "class_counts": counts.tolist(),
        "los_share": round(float(arrays.los.mean()), 4),
        "rsrp_dbm_min": round(float(arrays.rsrp.min()), 2),
        "rsrp_dbm_max": round(float(arrays.rsrp.max()), 2),
        "best_rsrp_dbm_median": round(float(np.median(arrays.rsrp.reshape(len(arrays), -1).max(axis=1))), 2),
        "sionna_version": attrs.get("sionna_version", ""),
        "beamsim_version": attrs.get("beamsim_version", ""),
        "created": attrs.get("created", ""),
        "sha256": attrs.get("sha256", ""),
    }
    if "side" in attrs:  # format version 2: Set A / Set B (beamsim.simulation.layout)
        doc.update({
            "side": str(attrs["side"]),
            "set_a": [int(v) for v in attrs["set_a_shape"]],
            "set_a_beams": int(counts.size),
            "set_b": str(attrs["set_b"]),
            "set_b_size": int(attrs["set_b_size"]),
        })
        if "set_b_shape" in attrs:
            doc["set_b_shape"] = [int(v) for v in attrs["set_b_shape"]]
    return doc


def plot_dataset(path: str | Path, folder: str | Path, examples: int = 6) -> list[Path]:
    """Write ``class_histogram.png`` and ``beam_maps.png`` (a few example samples) to ``folder``.

    Returns:
        The written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from beamsim.fileio import atomic_path

    arrays, attrs = read_dataset(path)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = class_histogram(arrays)
    written = []

    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.bar(np.arange(counts.size), counts, color="tab:blue")
    ax.set_xlabel("best beam index (el * num_az + az)")
    ax.set_ylabel("samples")
    ax.set_title(f"{attrs.get('scenario_name', '')}: class histogram ({len(arrays)} samples, "
                 f"min {counts.min()}, median {np.median(counts):.0f}, max {counts.max()})")
    fig.tight_layout()
    target = folder / "class_histogram.png"
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    written.append(target)

    idx = np.linspace(0, len(arrays) - 1, num=min(examples, len(arrays))).astype(int)
    fig, axes = plt.subplots(2, len(idx), figsize=(2.3 * len(idx), 4.8), squeeze=False)
    observed = arrays.observed
    for col, i in enumerate(idx):
        full = arrays.rsrp[i]
        shown = np.where(arrays.mask[i], observed[i], np.nan)
        vmax = float(full.max())
        vmin = vmax - 30.0
        for row, (img, title) in enumerate([(full, "true RSRP"), (shown, "measured")]):
            ax = axes[row, col]
            im = ax.imshow(img, vmin=vmin, vmax=vmax, cmap="viridis")
            e, a = divmod(int(arrays.label[i]), img.shape[1])
            ax.plot(a, e, marker="x", color="red")
            ax.set_title(f"#{i} {title}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.7, label="RSRP [dBm] (30 dB range)")
    target = folder / "beam_maps.png"
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    written.append(target)
    if "tx_directions" in attrs:
        written.append(_plot_bs_beams(attrs, counts, folder / "bs_beams.png"))
    return written


def _plot_bs_beams(attrs: dict, counts: np.ndarray, target: Path) -> Path:
    """The BS beams' directions (azimuth x elevation in the BS frame), sized and coloured by how
    often each is the best (summed over receive beams for pairs); wide beams as crosses."""
    import matplotlib.pyplot as plt

    from beamsim.fileio import atomic_path

    tx = np.asarray(attrs["tx_directions"], dtype=float)
    per_tx = counts.reshape(len(tx), -1).sum(axis=1)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    shown = np.isfinite(tx[:, 0])
    sc = ax.scatter(tx[shown, 0], tx[shown, 1], s=30 + 400 * per_tx[shown] / max(per_tx.max(), 1),
                    c=per_tx[shown], cmap="viridis")
    for t in np.flatnonzero(shown):
        ax.annotate(str(t), tx[t], fontsize=7, ha="center", va="center", color="white")
    if "set_b_directions" in attrs:
        wide = np.asarray(attrs["set_b_directions"], dtype=float)
        ax.scatter(wide[:, 0], wide[:, 1], marker="x", color="red", label="wide beams (Set B)")
        ax.legend(loc="lower right", fontsize=8)
    fig.colorbar(sc, ax=ax, label="samples whose best beam it is")
    ax.set_xlabel("azimuth [deg] (BS frame)")
    ax.set_ylabel("elevation [deg]")
    ax.set_title(f"{attrs.get('scenario_name', '')}: BS beams (Set A) and their class counts")
    fig.tight_layout()
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return target

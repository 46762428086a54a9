"""Plots of an evaluation: confusion matrix and the CDF of the RSRP loss (PNG, matplotlib Agg).

Figures are drawn on matplotlib's object API with the Agg canvas, so no global pyplot
state or GUI backend is touched, and written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from beamsim.fileio import atomic_path

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_rsrp_loss_cdf", "write_evaluation_plots", "save_figure"]


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts [num_classes, num_classes] int64: row = true class, column = predicted class.

    Args:
        pred: [N] or [R, N] int predictions (several runs are pooled); labels: [N] int.
    """
    pred = pred.long().reshape(-1, labels.shape[0])
    true = labels.long().view(1, -1).expand_as(pred)
    flat = true.reshape(-1) * num_classes + pred.reshape(-1)
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (120 dpi) to ``path`` atomically, on the Agg canvas; return ``path``."""
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png.tmp") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return path


def plot_confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int, path: str | Path,
                          title: str = "Confusion matrix") -> Path:
    """Row-normalised confusion matrix (share of each true class predicted as each class) as a PNG."""
    counts = confusion_matrix(pred, labels, num_classes).double()
    rows = counts.sum(dim=1, keepdim=True)
    share = torch.where(rows > 0, counts / rows.clamp_min(1), torch.zeros_like(counts)).numpy()
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xlabel("predicted beam")
    ax.set_ylabel("true best beam")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    return save_figure(fig, Path(path))


def plot_rsrp_loss_cdf(curves: dict[str, torch.Tensor], path: str | Path, margin_db: float = 1.0,
                       title: str = "RSRP loss of the predicted beam") -> Path:
    """Empirical CDFs of RSRP loss [dB], one curve per name, with the margin marked."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    upper = 0.0
    for name, loss in curves.items():
        values = np.sort(loss.detach().double().reshape(-1).cpu().numpy())
        if values.size == 0:
            continue
        cdf = np.arange(1, values.size + 1) / values.size
        ax.step(np.concatenate([[0.0], values]), np.concatenate([[0.0], cdf]), where="post", label=name)
        upper = max(upper, float(np.quantile(values, 0.99)))
    ax.axvline(margin_db, color="grey", linestyle="--", linewidth=1, label=f"{margin_db:g} dB")
    ax.set_xlim(0.0, max(upper, 2 * margin_db) * 1.05)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("RSRP loss [dB] (best beam minus predicted beam)")
    ax.set_ylabel("CDF")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_figure(fig, Path(path))


def write_evaluation_plots(result, out_dir: str | Path) -> list[Path]:
    """``confusion_matrix.png`` (all runs pooled) and, when the result has per-sample RSRP
    losses (beam maps), ``rsrp_loss_cdf.png`` in ``out_dir``.

    Args:
        result: a :class:`beamsim.experiments.result.EvaluationResult`.

    Returns:
        the written paths.
    """
    out_dir = Path(out_dir)
    label = f"{result.model} ({result.runs} run{'s' if result.runs != 1 else ''})"
    written = [plot_confusion_matrix(result.predictions, result.labels, result.num_classes,
                                     out_dir / "confusion_matrix.png", title=f"Confusion matrix, {label}")]
    if result.rsrp_loss is not None:
        curves = {label: result.rsrp_loss}
        if result.reference_rsrp_loss is not None:
            curves[result.reference_name or "reference"] = result.reference_rsrp_loss
        written.append(plot_rsrp_loss_cdf(curves, out_dir / "rsrp_loss_cdf.png"))
    return written

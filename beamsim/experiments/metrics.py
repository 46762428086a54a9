"""Beam-prediction KPIs (3GPP BM-Case1 style) and image-classification metrics.

Pure functions on tensors: no state, no I/O. Beam KPIs are computed against the full,
unmasked RSRP of every test sample, never against the masked model input.

Definitions (N samples, B beams, C classes):

- top-K accuracy: the true label is among the K highest scores;
- top-1 within a margin: the true RSRP of the predicted beam is at most ``margin_db`` below
  the best beam's RSRP (a loss of exactly the margin counts as within);
- RSRP loss: best RSRP minus the true RSRP of the predicted beam [dB], >= 0 per sample;
  summarised by its mean and 95th percentile (linear interpolation, ``torch.quantile``);
- macro F1: the unweighted mean of per-class F1 = 2 TP / (2 TP + FP + FN) over the classes
  present in the test labels (a present class that is never predicted scores 0; a class
  that is predicted but absent from the labels adds no term, its false positives are
  already counted as false negatives of the true classes). Same as scikit-learn's
  ``f1_score(labels, pred, labels=present_classes, average="macro")``;
- strongest observed beam (the trivial reference): the measured beam with the highest RSRP;
  ranked by observed RSRP (unmeasured beams last) it also has top-K numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "topk_accuracy", "topk_hits", "within_margin", "rsrp_loss_db", "macro_f1",
    "strongest_observed", "observed_scores", "wide_scores", "beam_kpis", "image_kpis", "BEAM_TOPK", "IMAGE_TOPK",
]

#: The K of the top-K beam KPIs: TR 38.843's 1, 2, 4, 8 and the 3 and 5 of the QuADD paper.
BEAM_TOPK: tuple[int, ...] = (1, 2, 3, 4, 5, 8)
#: The K of the top-K image metrics.
IMAGE_TOPK: tuple[int, ...] = (1, 5)


def _flat_rsrp(rsrp: torch.Tensor, n: int) -> torch.Tensor:
    if rsrp.ndim < 2 or rsrp.shape[0] != n:
        raise ValueError(f"rsrp must have shape [N, ...beams] with N = {n}, got {list(rsrp.shape)}")
    return rsrp.reshape(n, -1).double()


def _check_pred(pred: torch.Tensor) -> torch.Tensor:
    if pred.ndim != 1:
        raise ValueError(f"pred must be a 1-D tensor of class indices [N], got shape {list(pred.shape)}")
    return pred.long()


def topk_hits(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Per-sample top-K hits.

    Args:
        scores: [N, C] float, logits, probabilities or any score (higher = more likely).
        labels: [N] int, true class indices.
        k: 1 <= k; values above C are clipped to C (every sample is then a hit).

    Returns:
        [N] bool, True where the label is among the ``k`` highest scores. Equal scores
        are ordered as ``torch.topk`` returns them (deterministic, but unspecified).
    """
    if scores.ndim != 2 or labels.ndim != 1 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"scores must be [N, C] and labels [N], got {list(scores.shape)} and {list(labels.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(int(k), scores.shape[1])
    top = scores.topk(k, dim=1).indices
    return (top == labels.long().view(-1, 1)).any(dim=1)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Fraction of samples whose label is among the ``k`` highest scores.

    Args:
        scores: [N, C] float scores (higher = more likely).
        labels: [N] int class indices.
        k: number of guesses.

    Returns:
        float in [0, 1].

    >>> scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]])
    >>> topk_accuracy(scores, torch.tensor([2, 2]), k=1), topk_accuracy(scores, torch.tensor([2, 2]), k=2)
    (0.0, 1.0)
    """
    return float(topk_hits(scores, labels, k).double().mean())


def rsrp_loss_db(pred: torch.Tensor, rsrp: torch.Tensor) -> torch.Tensor:
    """RSRP loss of the predicted beam: best true RSRP minus the predicted beam's true RSRP.

    Args:
        pred: [N] int, predicted beam index (row-major over the beam grid: el * A + az).
        rsrp: [N, B] or [N, E, A] float, full unmasked true RSRP [dBm].

    Returns:
        [N] float64 loss [dB], >= 0 (0 where the prediction is a best beam).

    >>> rsrp_loss_db(torch.tensor([0, 2]), torch.tensor([[-70.0, -72.0, -75.0], [-80.0, -71.0, -74.0]]))
    tensor([0., 3.], dtype=torch.float64)
    """
    pred = _check_pred(pred)
    flat = _flat_rsrp(rsrp, pred.shape[0])
    if pred.numel() and (pred.min() < 0 or pred.max() >= flat.shape[1]):
        raise ValueError(f"pred holds beam indices outside [0, {flat.shape[1] - 1}]")
    chosen = flat.gather(1, pred.view(-1, 1)).squeeze(1)
    return flat.amax(dim=1) - chosen


def within_margin(pred: torch.Tensor, rsrp: torch.Tensor, margin_db: float = 1.0) -> float:
    """Fraction of samples whose predicted beam is within ``margin_db`` of the best beam.

    Args:
        pred: [N] int predicted beam index.
        rsrp: [N, B] or [N, E, A] float, full unmasked true RSRP [dBm].
        margin_db: allowed RSRP loss [dB]; a loss equal to the margin counts as within.

    Returns:
        float in [0, 1].

    >>> rsrp = torch.tensor([[-70.0, -71.0, -75.0], [-70.0, -71.5, -75.0]])
    >>> within_margin(torch.tensor([1, 1]), rsrp, margin_db=1.0)
    0.5
    """
    if margin_db < 0:
        raise ValueError(f"margin_db must be >= 0, got {margin_db}")
    loss = rsrp_loss_db(pred, rsrp)
    return float((loss <= margin_db + 1e-9).double().mean())


def macro_f1(pred: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> float:
    """Macro F1 over the classes present in ``labels``.

    Args:
        pred: [N] int predicted class indices.
        labels: [N] int true class indices.
        num_classes: C (default: 1 + the largest index in ``pred`` or ``labels``).

    Returns:
        float in [0, 1]: mean over present classes c of 2 TP_c / (2 TP_c + FP_c + FN_c).

    >>> macro_f1(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1]))
    0.5833333333333333
    """
    pred = _check_pred(pred)
    labels = labels.long()
    if labels.shape != pred.shape:
        raise ValueError(f"pred and labels must have the same shape, got {list(pred.shape)} and {list(labels.shape)}")
    if labels.numel() == 0:
        raise ValueError("macro_f1 needs at least one sample")
    if num_classes is None:
        num_classes = int(max(pred.max(), labels.max())) + 1
    tp = torch.bincount(labels[pred == labels], minlength=num_classes).double()
    n_pred = torch.bincount(pred, minlength=num_classes).double()
    n_true = torch.bincount(labels, minlength=num_classes).double()
    present = n_true > 0
    f1 = 2 * tp[present] / (n_pred[present] + n_true[present])  # 2TP + FP + FN = n_pred + n_true
    return float(f1.mean())


def observed_scores(rsrp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scores of the trivial reference: observed RSRP, -inf for unmeasured beams.

    Args:
        rsrp: [N, E, A] or [N, B] float true RSRP [dBm].
        mask: same shape, bool, True = measured.

    Returns:
        [N, B] float64 scores.
    """
    if rsrp.shape != mask.shape:
        raise ValueError(f"rsrp and mask must have the same shape, got {list(rsrp.shape)} and {list(mask.shape)}")
    n = rsrp.shape[0]
    flat = rsrp.reshape(n, -1).double()
    return torch.where(mask.reshape(n, -1).bool(), flat, torch.full_like(flat, -torch.inf))


def wide_scores(setb: torch.Tensor, blocks: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Scores of the wide-beam reference: the centre beam of the strongest wide beam first.

    Each Set A beam scores the reported RSRP of the wide beam that covers it; a block's centre
    beam gets 1e-6 dB more, so the prediction is the centre of the strongest wide beam and the
    top-K list the centres of the next strongest wide beams (then the rest of each block).

    Args:
        setb: [N, kr, kc] or [N, K] float reported wide-beam RSRP [dBm].
        blocks: [B] int, the wide beam covering each Set A beam.
        centres: [K] int, the Set A beam at each wide beam's centre.

    Returns:
        [N, B] float64 scores.

    >>> wide_scores(torch.tensor([[-80.0, -70.0]]), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 3])).argmax(dim=1)
    tensor([3])
    """
    flat = setb.reshape(setb.shape[0], -1).double()
    scores = flat[:, blocks.long()]
    bonus = torch.zeros(scores.shape[1], dtype=torch.float64)
    bonus[centres.long()] = 1e-6
    return scores + bonus


def strongest_observed(rsrp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The trivial reference: index of the strongest measured beam.

    Args:
        rsrp: [N, E, A] or [N, B] float true RSRP [dBm].
        mask: same shape, bool, True = measured (at least one per sample).

    Returns:
        [N] int64 beam index (row-major, el * A + az).

    >>> rsrp = torch.tensor([[-70.0, -60.0, -65.0]])
    >>> strongest_observed(rsrp, torch.tensor([[True, False, True]]))
    tensor([2])
    """
    return observed_scores(rsrp, mask).argmax(dim=1)


def beam_kpis(scores: torch.Tensor, labels: torch.Tensor, rsrp: torch.Tensor,
              ks: Sequence[int] = BEAM_TOPK, margin_db: float = 1.0) -> dict[str, float]:
    """All beam-prediction KPIs of one set of predictions.

    Args:
        scores: [N, B] float scores per beam (logits); the prediction is their argmax.
        labels: [N] int true best beam.
        rsrp: [N, E, A] or [N, B] float full unmasked true RSRP [dBm].
        ks: the K of the top-K accuracies.
        margin_db: margin of the ``within`` KPI [dB].

    Returns:
        dict with ``top{K}`` for each K, ``within_{margin}db`` (e.g. ``within_1db``),
        ``rsrp_loss_db`` (mean [dB]), ``rsrp_loss_p95_db`` (95th percentile [dB]) and
        ``macro_f1``; accuracies are fractions in [0, 1].
    """
    n = labels.shape[0]
    flat = _flat_rsrp(rsrp, n)
    if scores.shape != flat.shape:
        raise ValueError(f"scores must be [N, B] = {list(flat.shape)}, got {list(scores.shape)}")
    pred = scores.argmax(dim=1)
    out = {f"top{k}": topk_accuracy(scores, labels, k) for k in ks}
    loss = rsrp_loss_db(pred, flat)
    out[f"within_{margin_db:g}db"] = float((loss <= margin_db + 1e-9).double().mean())
    out["rsrp_loss_db"] = float(loss.mean())
    out["rsrp_loss_p95_db"] = float(torch.quantile(loss, 0.95))
    out["macro_f1"] = macro_f1(pred, labels, flat.shape[1])
    return out


def image_kpis(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = IMAGE_TOPK) -> dict[str, float]:
    """Image-classification metrics: ``top{K}`` for each K and ``macro_f1``.

    Args:
        scores: [N, C] float scores; labels: [N] int.
    """
    out = {f"top{k}": topk_accuracy(scores, labels, k) for k in ks}
    out["macro_f1"] = macro_f1(scores.argmax(dim=1), labels, scores.shape[1])
    return out

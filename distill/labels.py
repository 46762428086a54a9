"""Learned soft labels (DATM), stored in a few bits and counted in the bit budget.

Each synthetic sample carries a learnable logit vector ``z`` [C], initialised from an expert's
logits on the sample. The student's cross-entropy target is ``T(softmax(z))``, where ``T`` is
exactly what the file stores:

- the ``k`` most probable classes (ties: the lower class index first), ``ceil(log2 C)`` bits each;
- each one's probability relative to the largest, rounded to ``b`` bits: the largest is always
  ``2^b - 1``, so a code of 0 means "less than half a step of the largest";
- decoded by renormalising the codes to sum to 1; every other class gets 0.

So a sample's label costs ``k (ceil(log2 C) + b)`` bits (:func:`label_bits`). In the loop the
rounding passes gradients straight through (:func:`stored_targets`), as the quantizer does for
the samples, and the class choice is not differentiated. :func:`encode` and :func:`decode` are
the file's code; :func:`check_codes` is what a reader holds a file's codes to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["SoftLabels", "label_bits", "class_bits", "encode", "decode", "stored_targets", "check_codes",
           "check_top_k"]


@dataclass(frozen=True)
class SoftLabels:
    """The stored soft labels of a set, one row per sample (in the set's row order).

    Attributes:
        classes: [N, k] int64 class indices, largest probability first.
        codes: [N, k] int64 codes in [0, 2^bits - 1], the first of every row 2^bits - 1.
        bits: bits per code (1..8).
        num_classes: ``C``.
    """

    classes: torch.Tensor
    codes: torch.Tensor
    bits: int
    num_classes: int

    @classmethod
    def of(cls, p: torch.Tensor, top_k: int, bits: int) -> "SoftLabels":
        """The stored code of probability rows ``p`` [N, C] (:func:`encode`)."""
        classes, codes = encode(p, top_k, bits)
        return cls(classes, codes, bits, int(p.shape[1]))

    @property
    def top_k(self) -> int:
        return int(self.classes.shape[1])

    def targets(self) -> torch.Tensor:
        """[N, C] float32 training targets (:func:`decode`)."""
        return decode(self.classes, self.codes, self.num_classes)

    def rows(self, index: torch.Tensor) -> "SoftLabels":
        """These labels with their rows taken at ``index`` (e.g. reordered by class)."""
        return SoftLabels(self.classes[index], self.codes[index], self.bits, self.num_classes)

    def cpu(self) -> "SoftLabels":
        """These labels with their tensors on the CPU."""
        return SoftLabels(self.classes.cpu(), self.codes.cpu(), self.bits, self.num_classes)

    def stored_bits(self) -> int:
        """Bits of all rows as stored: ``N k (ceil(log2 C) + bits)``."""
        return int(self.classes.shape[0]) * label_bits(self.num_classes, self.top_k, self.bits)


def class_bits(num_classes: int) -> int:
    """Bits of one stored class index: ``ceil(log2 C)``, at least 1.

    >>> class_bits(64), class_bits(10), class_bits(2), class_bits(1)
    (6, 4, 1, 1)
    """
    return max(1, math.ceil(math.log2(num_classes))) if num_classes > 1 else 1


def label_bits(num_classes: int, top_k: int, bits: int) -> int:
    """Bits of one sample's stored soft label: ``k (ceil(log2 C) + b)``.

    >>> label_bits(64, 4, 4)
    40
    """
    return top_k * (class_bits(num_classes) + bits)


def _top(p: torch.Tensor, top_k: int) -> torch.Tensor:
    """[N, k] int64: the k largest entries of every row, largest first, ties by lower index."""
    return torch.sort(p, dim=1, descending=True, stable=True).indices[:, :top_k]


def encode(p: torch.Tensor, top_k: int, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The stored code of probability rows ``p`` [N, C]: (classes [N, k] int64, codes [N, k]
    int64 in [0, 2^bits - 1], the first of every row 2^bits - 1).

    >>> classes, codes = encode(torch.tensor([[0.1, 0.6, 0.3]]), 2, 4)
    >>> classes.tolist(), codes.tolist()
    ([[1, 2]], [[15, 8]])
    """
    p = p.detach().float()
    classes = _top(p, top_k)
    values = p.gather(1, classes)
    top = 2**bits - 1
    codes = torch.round(values / values[:, :1].clamp_min(torch.finfo(torch.float32).tiny) * top)
    return classes, codes.clamp(0, top).long()


def decode(classes: torch.Tensor, codes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[N, C] float32 targets: the codes renormalised to sum to 1 at their classes.

    >>> decode(torch.tensor([[1, 2]]), torch.tensor([[15, 5]]), 3).tolist()
    [[0.0, 0.75, 0.25]]
    """
    values = codes.float()
    out = torch.zeros(classes.shape[0], num_classes, dtype=torch.float32, device=classes.device)
    out.scatter_(1, classes, values)
    return out / out.sum(dim=1, keepdim=True)


def stored_targets(z: torch.Tensor, top_k: int, bits: int) -> torch.Tensor:
    """[N, C] targets of logits ``z`` as the file will store them (forward: ``decode(encode(
    softmax(z)))`` up to float rounding), with the rounding passed straight through so the
    gradient reaches ``z`` at the kept classes."""
    p = torch.softmax(z, dim=1)
    classes = _top(p.detach(), top_k)
    values = p.gather(1, classes)
    top = 2**bits - 1
    ratio = values / values[:, :1]
    rounded = ratio + (torch.round(ratio.detach() * top) / top - ratio.detach())
    out = torch.zeros_like(p).scatter(1, classes, rounded)
    return out / out.sum(dim=1, keepdim=True)


def check_top_k(top_k: int, num_classes: int) -> None:
    """Refuse keeping more classes per sample than the data has.

    >>> check_top_k(65, 64)
    Traceback (most recent call last):
    ...
    ValueError: label_topk 65 is more than the 64 classes
    """
    if top_k > num_classes:
        raise ValueError(f"label_topk {top_k} is more than the {num_classes} classes")


def check_codes(classes: torch.Tensor, codes: torch.Tensor, num_classes: int, bits: int) -> str | None:
    """What is wrong with stored label codes, or None: classes in ``[0, C)`` and distinct within
    a row, codes in ``[0, 2^bits - 1]`` with the first of every row ``2^bits - 1``.

    >>> check_codes(torch.tensor([[1, 1]]), torch.tensor([[15, 3]]), 3, 4)
    'a sample names one class twice'
    """
    top = 2**bits - 1
    if classes.shape != codes.shape or classes.ndim != 2:
        return f"classes {list(classes.shape)} and codes {list(codes.shape)} must both be [N, k]"
    if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= num_classes):
        return f"a class index lies outside [0, {num_classes})"
    if classes.shape[1] > 1 and bool((classes.sort(dim=1).values.diff(dim=1) == 0).any()):
        return "a sample names one class twice"
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) > top or bool((codes[:, 0] != top).any())):
        return f"a code lies outside [0, {top}] or a sample's first code is not {top}"
    return None

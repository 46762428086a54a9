"""A patch-quantized set: codes, (scale, zero point) tables, group indices, and what each weighs.

Byte accounting (the paper's "group indices + parameters + coded codes", plus what this
package stores besides):

- ``group_indices``: one ``ceil(log2 G)``-bit index per patch, packed (none for PAQ, where
  patch ``p`` of sample ``n`` owns parameter row ``n * P + p``, or for ``G = 1``);
- ``parameters``: ``G`` pairs of a float32 scale and an int32 zero point, 8 bytes each;
- ``codes``: the ``N x V`` b-bit codes, packed (``ceil(N V b / 8)``) or range-coded (the
  stream with its 12-byte header);
- ``constants``: elements constant across the set, as the container accounts them: a
  ``d``-bit mask plus a float32 value each (nothing when there are none).

``payload`` is their sum: what a byte budget is spent on. Labels (per-class counts, 4 bytes
per class) are reported beside it and, like the float32 set the budget is measured against,
not charged to it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from beamsim.distill.packing import packed_size
from beamsim.distill.compress.patches import PatchLayout

__all__ = ["QuantizedSet", "ByteSizes", "index_bits", "pack_indices", "unpack_indices", "PARAMETER_BYTES"]

#: Bytes of one (scale float32, zero point int32) pair.
PARAMETER_BYTES = 8


def index_bits(groups: int) -> int:
    """Bits of one group index: ``ceil(log2 G)`` (0 for a single group).

    >>> index_bits(1), index_bits(2), index_bits(5), index_bits(256)
    (0, 1, 3, 8)
    """
    if int(groups) != groups or groups < 1:
        raise ValueError(f"groups must be a positive integer, not {groups!r}")
    return math.ceil(math.log2(groups)) if groups > 1 else 0


def pack_indices(indices: np.ndarray | torch.Tensor, bits: int) -> np.ndarray:
    """Pack non-negative integers below ``2^bits`` (``bits`` in 0..32) little-endian, like
    :func:`beamsim.distill.packing.pack_codes` but wider.

    >>> pack_indices(np.array([1, 2, 3]), 2).tolist()
    [57]
    >>> unpack_indices(pack_indices(np.array([1000, 7]), 10), 10, 2).tolist()
    [1000, 7]
    """
    if torch.is_tensor(indices):
        indices = indices.detach().cpu().numpy()
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if not 0 <= bits <= 32:
        raise ValueError(f"index bits must lie in 0..32, not {bits}")
    if indices.size and (indices.min() < 0 or indices.max() >= 2**bits):
        raise ValueError(f"indices must lie in [0, 2^{bits}) to pack at {bits} bits")
    if bits == 0:
        return np.zeros(0, dtype=np.uint8)
    planes = np.unpackbits(indices.astype("<u4").view(np.uint8).reshape(-1, 4), axis=1, bitorder="little")
    return np.packbits(planes[:, :bits].reshape(-1), bitorder="little")


def unpack_indices(data: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_indices`: int64 [count].

    Raises:
        ValueError: fewer bytes than ``count`` indices need.
    """
    data = np.asarray(data, dtype=np.uint8).reshape(-1)
    if bits == 0:
        return np.zeros(count, dtype=np.int64)
    need = (count * bits + 7) // 8
    if data.size < need:
        raise ValueError(f"{count} indices of {bits} bits need {need} bytes, only {data.size} given")
    stream = np.unpackbits(data[:need], bitorder="little", count=count * bits).reshape(count, bits)
    planes = np.zeros((count, 32), dtype=np.uint8)
    planes[:, :bits] = stream
    return np.packbits(planes, axis=1, bitorder="little").view("<u4").reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class ByteSizes:
    """What a compressed set weighs [bytes]; see the module docstring."""

    group_indices: int
    parameters: int
    codes: int
    constants: int
    labels: int

    @property
    def payload(self) -> int:
        """Group indices + parameters + codes + constants: what the budget pays for."""
        return self.group_indices + self.parameters + self.codes + self.constants

    @property
    def total(self) -> int:
        """Payload plus labels."""
        return self.payload + self.labels

    def as_dict(self) -> dict[str, int]:
        """The fields plus ``payload`` and ``total``."""
        return {**asdict(self), "payload": self.payload, "total": self.total}


@dataclass
class QuantizedSet:
    """The output of :func:`~.paq.paq` or :func:`~.gaq.gaq`.

    Attributes:
        codes: [N, V] uint8 codes of the varying elements.
        scale: [G] float32 scales (> 0).
        zero_point: [G] int32 zero points.
        group: [N, P] int64 group of every patch, or None for PAQ (``G = N P``, row ``n P + p``).
        layout: the patch layout and the constant elements.
        bits: bits per code, 1..8.
    """

    codes: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    group: torch.Tensor | None
    layout: PatchLayout
    bits: int

    @property
    def num_samples(self) -> int:
        return int(self.codes.shape[0])

    @property
    def num_groups(self) -> int:
        """``G``, rows of the parameter tables."""
        return int(self.scale.numel())

    @property
    def codec(self) -> str:
        """``"paq"`` (parameters per patch) or ``"gaq"`` (parameters per group)."""
        return "paq" if self.group is None else "gaq"

    @property
    def index_bits(self) -> int:
        """Bits per stored group index (0 for PAQ and for one group)."""
        return 0 if self.group is None else index_bits(self.num_groups)

    def parameter_rows(self) -> torch.Tensor:
        """[N, P] int64: the parameter row each patch uses."""
        n, p = self.num_samples, self.layout.num_patches
        if self.group is None:
            return torch.arange(n * p).reshape(n, p)
        return self.group

    def decode(self) -> torch.Tensor:
        """[N, C, H, W] float32 dequantized set (constant elements restored)."""
        rows = self.parameter_rows()[:, self.layout.patch_of]  # [N, V]
        values = ((self.codes.double() - self.zero_point.double()[rows]) * self.scale.double()[rows]).float()
        return self.layout.merge(values)

    def sizes(self, coded_bytes: int | None = None, num_classes: int = 0) -> ByteSizes:
        """The byte breakdown.

        Args:
            coded_bytes: length of the range-coded codes; None means packed codes.
            num_classes: classes whose counts are stored (4 bytes each).
        """
        n, p = self.num_samples, self.layout.num_patches
        k = int(self.layout.constant.sum())
        codes = packed_size(self.codes.numel(), self.bits) if coded_bytes is None else int(coded_bytes)
        return ByteSizes(
            group_indices=(n * p * self.index_bits + 7) // 8,
            parameters=self.num_groups * PARAMETER_BYTES,
            codes=codes,
            constants=(-(-self.layout.elements // 8) + 4 * k) if k else 0,
            labels=4 * int(num_classes),
        )

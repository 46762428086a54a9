"""Path bookkeeping of the Sionna RT back-end: a canonical path order and compact path axes.

The solver's path order varies from run to run on multi-threaded LLVM, even with
``deterministic=True``; :func:`canonical_path_order` makes equal seeds give equal bytes.
The antenna axis may be any flattening of receive (and transmit) antennas.
"""

from __future__ import annotations

import torch

__all__ = ["canonical_path_order", "compact_paths"]


def canonical_path_order(a: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """[n, p] int64: per row, paths by delay, then by falling power, then by phase; empty slots last.

    Args:
        a: [n, num_ant, p] complex64, path coefficients.
        tau: [n, p] float, path delays [s] (negative for invalid paths).
    """
    power = a.abs().square().sum(1)                                         # [n, p]
    phase = torch.angle(a[:, 0, :])
    delay = torch.where((power == 0) | (tau < 0), torch.inf, tau.to(torch.float64))
    order = torch.argsort(phase, dim=-1, stable=True)                       # least significant key first
    order = order.gather(-1, torch.argsort(-power.gather(-1, order), dim=-1, stable=True))
    return order.gather(-1, torch.argsort(delay.gather(-1, order), dim=-1, stable=True))


def compact_paths(parts: list[torch.Tensor]) -> torch.Tensor:
    """Join [n_i, num_ant, p_i] blocks into [sum n_i, num_ant, p] with each row's paths first.

    Within a row, the order of its non-zero paths is kept; p is the most non-zero paths of
    any row.
    """
    num_paths = max(part.shape[-1] for part in parts)
    a = torch.cat([torch.nn.functional.pad(part, (0, num_paths - part.shape[-1])) for part in parts])
    used = (a != 0).any(1)                                             # [n, p]
    order = torch.sort((~used).to(torch.uint8), dim=-1, stable=True).indices
    keep = int(used.sum(-1).max()) if a.shape[0] else 0
    order = order[:, :keep]
    return torch.gather(a, 2, order.unsqueeze(1).expand(-1, a.shape[1], -1)).contiguous()

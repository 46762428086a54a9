"""What every channel back-end returns, and the geometry they share.

A back-end turns a scenario into batches of per-path UE-array responses. It draws everything
from the seed it is given, so batch ``k`` of a run is the same whether the run is whole or a
shard. The beam measurement (codebook, RSRP, mask, label) is the same for every back-end and
lives outside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

__all__ = ["ChannelBatch", "ChannelBackend", "facing_orientations"]


@dataclass
class ChannelBatch:
    """One batch of downlink channels at the UE array (one time step).

    Attributes:
        a: [n, num_ant, num_paths] complex64 (one BS/Tx antenna), or [n, num_ant, num_bs_ant,
            num_paths] with a BS array (``side = "bs"``/``"pair"``): path coefficients per UE
            (and BS) antenna, including the array responses, element patterns, pathloss and
            shadowing (Sionna's ``a``). Unused path slots are zero. Antenna order is Sionna's:
            index = row + col * num_rows, row 0 on top.
        ue_pos: [n, 3] float32, UE position relative to the BS/Tx [m].
        los: [n] bool, line of sight between BS/Tx and UE.
        sionna_seconds: wall time spent inside Sionna's channel calls for this batch [s].
        instants: 1, or T with a ``[trajectory]``: then the rows are tracks x instants,
            track-major (row = track * T + instant), and ``n`` is tracks * T.
        speed, heading: [tracks] float32, each track's speed [m/s] and heading [rad] (with a
            ``[trajectory]``), else None.
    """

    a: torch.Tensor
    ue_pos: torch.Tensor
    los: torch.Tensor
    sionna_seconds: float
    instants: int = 1
    speed: torch.Tensor | None = None
    heading: torch.Tensor | None = None


class ChannelBackend(Protocol):
    """The interface of a channel back-end (``tr38901``, ``rt``)."""

    #: Number of samples every call to :meth:`sample` returns.
    batch_size: int

    def sample(self, seed: int) -> ChannelBatch:
        """Exactly ``batch_size`` channels, fully determined by ``seed``."""
        ...


def facing_orientations(ue_pos: torch.Tensor, target_pos: torch.Tensor, jitter_bearing_deg: float,
                        jitter_tilt_deg: float, generator: torch.Generator | None = None,
                        bearing_offset_deg: float = 0.0, tilt_offset_deg: float = 0.0) -> torch.Tensor:
    """UE array orientations whose boresight points at ``target_pos``, with uniform jitter.

    Sionna's orientation (alpha, beta, gamma) rotates the array by Rz(alpha) Ry(beta) Rx(gamma);
    boresight +x then points to (cos b cos a, cos b sin a, -sin b). So bearing alpha = atan2(dy, dx)
    and beta = -elevation of the target seen from the UE.

    Args:
        ue_pos: [..., 3] float, UE positions [m].
        target_pos: [..., 3] float, broadcastable to ``ue_pos`` (BS or Tx position) [m].
        jitter_bearing_deg, jitter_tilt_deg: half-widths of the uniform jitter [deg].
        bearing_offset_deg, tilt_offset_deg: fixed turn of the boresight away from the target
            [deg] (positive bearing: counter-clockwise; positive tilt: downward).
        generator: source of the jitter.

    Returns:
        [..., 3] float, (alpha, beta, gamma) [rad], gamma = 0.
    """
    d = target_pos - ue_pos
    bearing = torch.atan2(d[..., 1], d[..., 0])
    elevation = torch.atan2(d[..., 2], torch.linalg.vector_norm(d[..., :2], dim=-1))
    shape = bearing.shape
    u = torch.rand((2, *shape), generator=generator, dtype=torch.float64).to(bearing.device, bearing.dtype)
    bearing = bearing + math.radians(bearing_offset_deg) + (2 * u[0] - 1) * math.radians(jitter_bearing_deg)
    tilt = -elevation + math.radians(tilt_offset_deg) + (2 * u[1] - 1) * math.radians(jitter_tilt_deg)
    return torch.stack([bearing, tilt, torch.zeros_like(bearing)], dim=-1)

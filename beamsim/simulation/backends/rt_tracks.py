"""UE tracks in a Sionna RT scene (3GPP BM-Case2): straight walks or drives, one position per period.

A track starts at a drop position of the scene, keeps one speed (drawn from
``trajectory.speeds_kmh``) and one heading (uniform in [0, 360) deg), and is sampled every
``trajectory.period_ms``. Every instant must be a usable UE spot (inside ``rt.area``, outdoors,
at least ``rt.min_distance`` from the transmitter); tracks that leave the area or walk into a
building are dropped before any tracing. The channel at each instant is the ray-traced one at
that place: consecutive instants see the same walls, moving in angle, by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from beamsim.scenarios import Scenario
from beamsim.simulation.backends.base import facing_orientations

__all__ = ["Tracks", "draw_tracks", "track_orientations"]


@dataclass
class Tracks:
    """Candidate tracks of one replacement round (those whose every instant is usable).

    Attributes:
        pos: [m, T, 3] float64, positions in scene coordinates [m].
        speed, heading: [m] float64, speed [m/s] and heading [rad] of each track.
    """

    pos: np.ndarray
    speed: np.ndarray
    heading: np.ndarray


def draw_tracks(start: np.ndarray, scenario: Scenario, generator: np.random.Generator,
                accept: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Tracks:
    """Straight tracks from ``start`` at a drawn speed and heading; only fully usable ones are kept.

    Args:
        start: [m, 3] float64, first positions (usable UE spots) [m].
        scenario: the scenario (its ``[trajectory]`` table).
        generator: source of the speeds and headings (one of each per start, drawn in that order).
        accept: maps [k, 2] horizontal positions to (usable [k] bool, UE height there [k] [m]).

    Returns:
        the tracks whose every instant is usable, in the order of their starts.
    """
    traj = scenario.trajectory
    m, t = len(start), traj.instants
    speeds = np.asarray(traj.speeds_kmh, dtype=np.float64) / 3.6
    speed = speeds[generator.integers(len(speeds), size=m)]
    heading = 2 * math.pi * generator.random(m)
    times = np.arange(t, dtype=np.float64) * traj.period_ms / 1000.0
    step = np.stack([speed * np.cos(heading), speed * np.sin(heading)], axis=-1)        # [m, 2] m/s
    xy = start[:, None, :2] + step[:, None, :] * times[None, :, None]                   # [m, t, 2]
    usable, z = accept(xy.reshape(-1, 2))
    keep = usable.reshape(m, t).all(axis=1)
    pos = np.concatenate([xy, z.reshape(m, t, 1)], axis=-1)
    return Tracks(pos=pos[keep], speed=speed[keep], heading=heading[keep])


def track_orientations(pos: torch.Tensor, target: torch.Tensor, scenario: Scenario,
                       generator: torch.Generator) -> torch.Tensor:
    """[m, T, 3] UE array orientations: facing ``target`` at every instant, with one jitter per
    track (the UE turns to keep facing the BS; its hand-held error stays), as the TR 38.901
    back-end does.

    Args:
        pos: [m, T, 3] float64 positions [m]; target: [3] the transmitter's position [m].
    """
    arr = scenario.ue_array
    orient = facing_orientations(pos, target, 0.0, 0.0, generator=generator,
                                 bearing_offset_deg=arr.bearing_offset_deg, tilt_offset_deg=arr.tilt_offset_deg)
    turn = 2 * torch.rand((2, pos.shape[0], 1), generator=generator, dtype=torch.float64) - 1
    orient[..., 0] += turn[0] * math.radians(arr.jitter_bearing_deg)
    orient[..., 1] += turn[1] * math.radians(arr.jitter_tilt_deg)
    return orient

"""The ``[trajectory]`` table of a scenario: moving UEs for temporal beam prediction (BM-Case2)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrajectorySettings"]


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class TrajectorySettings:
    """Moving UEs (3GPP BM-Case2; :mod:`beamsim.sequences`): each sample is one UE's track.

    A track has ``history + max(horizons)`` instants, ``period_ms`` apart, on a straight line
    at one speed (drawn uniformly from ``speeds_kmh``) and a heading uniform in [0, 360) deg.
    The model sees Set B at the first ``history`` instants and predicts the best Set A beam
    ``h`` periods after the last of them, for each ``h`` in ``horizons``.
    """

    period_ms: float = 40.0
    history: int = 8
    horizons: tuple[int, ...] = (1, 2, 4)
    speeds_kmh: tuple[float, ...] = (3.0, 30.0)

    def __post_init__(self) -> None:
        _check(self.period_ms > 0, f"trajectory.period_ms must be > 0, not {self.period_ms}")
        _check(self.history >= 1, f"trajectory.history (K past instants) must be >= 1, not {self.history}")
        _check(len(self.horizons) >= 1 and all(h >= 1 for h in self.horizons),
               f"trajectory.horizons must be one or more periods >= 1, not {list(self.horizons)}")
        _check(list(self.horizons) == sorted(set(self.horizons)), "trajectory.horizons must be increasing, without repeats")
        _check(len(self.speeds_kmh) >= 1 and all(v >= 0 for v in self.speeds_kmh),
               "trajectory.speeds_kmh must be one or more speeds >= 0 [km/h]")

    @property
    def instants(self) -> int:
        """T: instants per track (history and the farthest horizon)."""
        return self.history + max(self.horizons)

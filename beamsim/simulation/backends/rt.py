"""Sionna RT channel back-end: one transmitter in a bundled scene, the UEs as receivers.

Each batch drops UEs in the scenario's area (uniformly on the outdoor ground, or from a
radio map), points their 8x8 arrays at the transmitter with jitter, traces all of them in one
:class:`sionna.rt.PathSolver` call with ``synthetic_array=True``, drops receivers without any
path and draws replacements until the batch is full. With a ``[trajectory]`` each UE is a track
(:mod:`~beamsim.simulation.backends.rt_tracks`) and all its instants go into the same call.
Everything is derived from the batch seed.

With ``beams.side = "bs"``/``"pair"`` the transmitter carries the ``[bs_array]`` panel, facing
the centre of ``rt.area`` at UE height (:attr:`RTBackend.tx_orientation`), and ``a`` has a BS
antenna axis ([n, num_ant, num_bs_ant, num_paths]).

Conventions (checked by ``tests/simulation/test_rt.py``): RT's ``PlanarArray`` numbers its
elements like Sionna's TR 38.901 ``PanelArray`` (index = row + col * num_rows, row 0 on top,
elements in the local y-z plane, boresight +x), and a receiver's ``orientation``
(alpha, beta, gamma) rotates by Rz(alpha) Ry(beta) Rx(gamma) exactly as TR 38.901 does, so
:func:`facing_orientations` is used unchanged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from beamsim.config import derive_seed, make_generator, resolve_device
from beamsim.errors import ScenarioError
from beamsim.scenarios import Scenario
from beamsim.simulation.backends.base import ChannelBatch, facing_orientations
from beamsim.simulation.backends.rt_paths import canonical_path_order, compact_paths
from beamsim.simulation.backends.rt_tracks import draw_tracks, track_orientations
from beamsim.simulation.llvm import import_sionna_rt

__all__ = ["RTBackend", "TraceResult", "bundled_scenes", "EMPTY_SCENE"]

#: ``rt.scene`` value for a scene without any geometry (free space, line of sight only).
EMPTY_SCENE = "empty"

#: UE array element patterns: scenario name -> Sionna RT pattern name.
_PATTERNS = {"38.901": "tr38901", "omni": "iso"}

#: A hit this far above the lowest point of the scene counts as a roof, not the ground [m].
_OBSTACLE_HEIGHT = 0.5

#: Radio-map cells below this path gain are treated as unreachable [dB].
_RADIO_MAP_MIN_PATH_GAIN_DB = -200.0

#: Most radio-map cells; the cell size grows with the area beyond this.
_RADIO_MAP_MAX_CELLS = 40_000

#: Replacement rounds before a batch that cannot be filled is given up.
_MAX_ROUNDS = 30
#: Chunks of candidate positions tried per round before the area is declared empty.
_MAX_DRAW_CHUNKS = 50

#: Largest seed handed to Dr.Jit / Mitsuba samplers (32-bit).
_SEED_MOD = 2**31


def bundled_scenes() -> dict[str, str]:
    """Sionna RT's bundled scenes: name (``"munich"``) -> path of the scene's XML file."""
    rt = import_sionna_rt()
    return {name: value for name, value in sorted(vars(rt.scene).items())
            if isinstance(value, str) and value.endswith(".xml") and not name.startswith("_")}


@dataclass
class TraceResult:
    """Receivers traced in one :meth:`RTBackend.trace` call.

    Attributes:
        a: [n, num_ant, num_paths] complex64 (on the backend's device), baseband path
            coefficients per UE antenna (Sionna's ``Paths.cir``, one time step); with a BS
            array, per (UE antenna, BS antenna) pair, index = rx * num_bs_ant + tx; zero for
            unused path slots. ``|a|^2`` is the path gain including both antenna patterns.
        los: [n] bool, a path without any interaction exists.
        reached: [n] bool, at least one path exists (some ``a`` is non-zero) and every
            coefficient is finite.
        seconds: wall time inside the Sionna calls [s].
    """

    a: torch.Tensor
    los: torch.Tensor
    reached: torch.Tensor
    seconds: float


class RTBackend:
    """Channels from a Sionna RT scene (``backend = "rt"``).

    The scene is loaded once per object. Every :meth:`sample` returns exactly ``batch_size``
    UEs that have at least one path; receivers without any are discarded (counted in
    ``dropped_total``) and replaced by new draws.

    Args:
        scenario: an ``rt`` scenario.
        device: where the returned tensors live (the ray tracer itself runs where Mitsuba's
            variant runs: CUDA when available, else the CPU through LLVM).

    Attributes:
        batch_size: UEs per :meth:`sample` (``scenario.rt.batch_size``).
        dropped_total: receivers traced so far that had no path.
        traced_total: receivers traced so far (including the dropped ones).

    Raises:
        ScenarioError: not an ``rt`` scenario, or an unknown scene.
        BackendUnavailableError: Sionna RT cannot run here (e.g. no LLVM >= 16 on a CPU).
    """

    def __init__(self, scenario: Scenario, device: str | torch.device | None = None) -> None:
        if scenario.backend != "rt" or scenario.rt is None:
            raise ScenarioError(f"scenario {scenario.name!r} is not an rt scenario (backend = {scenario.backend!r})")
        self.scenario = scenario
        self.settings = scenario.rt
        self.device = resolve_device(device)
        self.batch_size = self.settings.batch_size
        self.dropped_total = 0
        self.traced_total = 0
        self._rt: ModuleType = import_sionna_rt()
        import mitsuba as mi
        self._mi = mi
        self._tx_position = np.asarray(self.settings.tx_position, dtype=np.float64)
        self._scene = self._build_scene()
        self._solver = self._rt.PathSolver(deterministic=True)
        self._radio_map: Any = None
        bbox = self._scene.mi_scene.bbox()
        self._has_geometry = len(self._scene.objects) > 0 and bbox.valid()
        self._ground_z = float(bbox.min.z) if self._has_geometry else 0.0
        self._top_z = float(bbox.max.z) + 10.0 if self._has_geometry else 10.0

    # ------------------------------------------------------------------ scene
    @staticmethod
    def scene_file(name: str) -> str | None:
        """The Mitsuba file of ``rt.scene`` ``name`` (None for the empty scene)."""
        if name == EMPTY_SCENE:
            return None
        if name.endswith(".xml"):
            if not Path(name).is_file():
                raise ScenarioError(f"rt.scene: scene file {name} does not exist")
            return name
        scenes = bundled_scenes()
        if name not in scenes:
            raise ScenarioError(f"rt.scene: unknown scene {name!r}; Sionna RT bundles: "
                                f"{', '.join(scenes)} (or {EMPTY_SCENE!r}, or a path to a Mitsuba .xml file)")
        return scenes[name]

    def _build_scene(self) -> Any:
        rt, mi, ua = self._rt, self._mi, self.scenario.ue_array
        scene = rt.load_scene(self.scene_file(self.settings.scene))
        scene.frequency = self.scenario.carrier_frequency
        bs = self.scenario.bs_array if self.scenario.side != "ue" else None
        if bs is None:  # the fixed reference beam: one isotropic, vertically polarized antenna
            scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        else:
            scene.tx_array = rt.PlanarArray(num_rows=bs.num_rows, num_cols=bs.num_cols, vertical_spacing=bs.spacing,
                                            horizontal_spacing=bs.spacing, pattern=_PATTERNS[bs.pattern],
                                            polarization="V")
        scene.rx_array = rt.PlanarArray(num_rows=ua.num_rows, num_cols=ua.num_cols,
                                        vertical_spacing=ua.spacing, horizontal_spacing=ua.spacing,
                                        pattern=_PATTERNS[ua.pattern], polarization="V")
        scene.add(rt.Transmitter(name="beamsim-tx", position=mi.Point3f(*map(float, self._tx_position)),
                                 orientation=mi.Point3f(*map(float, self.tx_orientation))))
        return scene

    @property
    def tx_orientation(self) -> tuple[float, float, float]:
        """The transmitter's (alpha, beta, gamma) [rad]: (0, 0, 0) for one isotropic antenna; a
        BS array faces the centre of ``rt.area`` at UE height (its downtilt included)."""
        if self.scenario.side == "ue":
            return (0.0, 0.0, 0.0)
        x0, x1, y0, y1 = self.settings.area
        centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2, self.settings.ue_height], dtype=torch.float64)
        facing = facing_orientations(torch.as_tensor(self._tx_position, dtype=torch.float64), centre, 0.0, 0.0)
        return tuple(float(v) for v in facing)

    # --------------------------------------------------------------- tracing
    def trace(self, ue_positions: torch.Tensor | np.ndarray, orientations: torch.Tensor | np.ndarray,
              seed: int) -> TraceResult:
        """Trace paths from the transmitter to receivers at the given places, in one call.

        Args:
            ue_positions: [n, 3] float, receiver positions in scene coordinates [m].
            orientations: [n, 3] float, receiver array orientations (alpha, beta, gamma) [rad],
                rotating by Rz(alpha) Ry(beta) Rx(gamma).
            seed: seed of the path solver's ray sampling.

        Returns:
            A :class:`TraceResult` for the n receivers, in the given order.
        """
        rt, mi, s = self._rt, self._mi, self.settings
        pos = np.asarray(torch.as_tensor(ue_positions).detach().cpu(), dtype=np.float64).reshape(-1, 3)
        ori = np.asarray(torch.as_tensor(orientations).detach().cpu(), dtype=np.float64).reshape(-1, 3)
        if pos.shape != ori.shape:
            raise ValueError(f"ue_positions {pos.shape} and orientations {ori.shape} must both be [n, 3]")
        n = pos.shape[0]
        bs = self.scenario.bs_array if self.scenario.side != "ue" else None
        num_ant = self.scenario.ue_array.num_rows * self.scenario.ue_array.num_cols * (bs.num_rows * bs.num_cols if bs else 1)
        if n == 0:
            empty = torch.zeros(0, dtype=torch.bool, device=self.device)
            return TraceResult(torch.zeros(0, num_ant, 0, dtype=torch.complex64, device=self.device), empty, empty, 0.0)
        names = [f"beamsim-rx-{i}" for i in range(n)]
        try:
            for name, p, o in zip(names, pos.tolist(), ori.tolist()):
                self._scene.add(rt.Receiver(name=name, position=mi.Point3f(*p), orientation=mi.Point3f(*o)))
            start = time.perf_counter()
            paths = self._solver(self._scene, max_depth=s.max_depth, max_num_paths_per_src=s.max_num_paths_per_src,
                                 samples_per_src=s.samples_per_src, synthetic_array=True,
                                 seed=int(seed) % _SEED_MOD)
            a, tau = paths.cir(num_time_steps=1, out_type="torch")
            # [n, num_ant, num_tx=1, num_tx_ant, num_paths, num_time_steps=1] -> [n, num_ant * num_tx_ant, num_paths]
            a = a[:, :, 0, :, :, 0].reshape(n, num_ant, a.shape[4]).to(torch.complex64)
            num_paths = a.shape[-1]
            if num_paths:
                # The solver's path order varies from run to run on multi-threaded LLVM, even
                # with deterministic=True; a canonical order makes equal seeds give equal bytes.
                order = canonical_path_order(a, tau.reshape(n, num_paths).to(a.device))
                a = torch.gather(a, 2, order.unsqueeze(1).expand(-1, a.shape[1], -1))
                valid = torch.as_tensor(np.asarray(paths.valid.numpy(), dtype=bool)).reshape(n, num_paths)
                first = np.asarray(paths.interactions.numpy()).reshape(-1, n, num_paths)[0]
                los = (valid & torch.as_tensor(first == rt.InteractionType.NONE)).any(-1)
            else:
                los = torch.zeros(n, dtype=torch.bool)
            seconds = time.perf_counter() - start
        finally:
            self._scene.remove(names)
        a = a.to(self.device).clone()
        reached = (a != 0).flatten(1).any(1) & torch.isfinite(torch.view_as_real(a)).flatten(1).all(1)
        return TraceResult(a=a, los=los.to(self.device) & reached, reached=reached, seconds=seconds)

    # ------------------------------------------------------------- UE drops
    def _ground(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground height under each point and whether the point is outdoors.

        A vertical ray is cast down from above the scene: a first hit near the lowest level
        of the scene is open ground; a higher hit is a roof (or anything else overhead); no hit
        is outside the scene's ground.

        Args:
            xy: [m, 2] float64, horizontal positions [m].

        Returns:
            ground_z [m] float64 and outdoor bool, both [m].
        """
        if not self._has_geometry:
            return np.full(len(xy), self._ground_z), np.ones(len(xy), dtype=bool)
        mi = self._mi
        origin = mi.Point3f(xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32),
                            np.full(len(xy), self._top_z, dtype=np.float32))
        hit = self._scene.mi_scene.ray_intersect(mi.Ray3f(origin, mi.Vector3f(0.0, 0.0, -1.0)))
        valid = np.asarray(hit.is_valid().numpy(), dtype=bool)
        z = np.where(valid, np.asarray(hit.p.z.numpy(), dtype=np.float64), np.nan)
        outdoor = valid & (z <= self._ground_z + _OBSTACLE_HEIGHT)
        return np.where(outdoor, z, self._ground_z), outdoor

    def _accept(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which candidate points are usable UE spots, and the UE height there [m]."""
        s = self.settings
        xmin, xmax, ymin, ymax = s.area
        inside = (xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax)
        far = np.hypot(xy[:, 0] - self._tx_position[0], xy[:, 1] - self._tx_position[1]) >= s.min_distance
        ground, outdoor = self._ground(xy)
        return inside & far & outdoor, ground + s.ue_height

    def _radio_map_solved(self) -> tuple[Any, float]:
        """The radio map over ``rt.area`` at UE height (computed once), and the seconds it took."""
        if self._radio_map is not None:
            return self._radio_map, 0.0
        mi, s = self._mi, self.settings
        xmin, xmax, ymin, ymax = s.area
        width, height = xmax - xmin, ymax - ymin
        cell = max(1.0, math.sqrt(width * height / _RADIO_MAP_MAX_CELLS))
        start = time.perf_counter()
        self._radio_map = self._rt.RadioMapSolver()(
            self._scene,
            center=mi.Point3f((xmin + xmax) / 2, (ymin + ymax) / 2, self._ground_z + s.ue_height),
            orientation=mi.Point3f(0.0, 0.0, 0.0), size=mi.Point2f(width, height),
            cell_size=mi.Point2f(cell, cell), samples_per_tx=max(10 * s.samples_per_src, 1_000_000),
            max_depth=s.max_depth, seed=derive_seed(0, "radio_map") % _SEED_MOD)
        return self._radio_map, time.perf_counter() - start

    def draw_positions(self, n: int, seed: int) -> tuple[np.ndarray, float]:
        """``n`` UE positions in scene coordinates, fully determined by ``seed``.

        ``drop = "uniform"``: uniform over ``rt.area``; ``drop = "radio_map"``: from the cells of
        a radio map with a path to the transmitter (``RadioMap.sample_positions``). Either way
        only outdoor points at least ``rt.min_distance`` (2-D) from the transmitter are kept,
        at ``rt.ue_height`` above the ground.

        Returns:
            positions [n, 3] float64 [m], and the seconds spent inside Sionna.

        Raises:
            ScenarioError: the area holds (almost) no usable spot.
        """
        s = self.settings
        rng = np.random.default_rng(derive_seed(seed, "uniform"))
        chunk = max(2 * n, 64)
        found: list[np.ndarray] = []
        have, seconds = 0, 0.0
        for k in range(_MAX_DRAW_CHUNKS):
            if have >= n:
                break
            if s.drop == "uniform":
                xmin, xmax, ymin, ymax = s.area
                xy = rng.uniform((xmin, ymin), (xmax, ymax), size=(chunk, 2))
            else:
                radio_map, took = self._radio_map_solved()
                start = time.perf_counter()
                sampled, _, num_valid = radio_map.sample_positions(
                    num_pos=chunk, metric="path_gain", min_val_db=_RADIO_MAP_MIN_PATH_GAIN_DB,
                    min_dist=s.min_distance, seed=derive_seed(seed, "radio_map", k) % _SEED_MOD)
                seconds += took + time.perf_counter() - start
                if int(np.asarray(num_valid.numpy()).reshape(-1)[0]) == 0:
                    raise ScenarioError(f"rt: the radio map over rt.area {s.area} has no cell reached by the "
                                        f"transmitter at {s.tx_position}")
                xy = np.asarray(sampled.numpy(), dtype=np.float64).reshape(-1, 3)[:, :2]
            ok, z = self._accept(xy)
            found.append(np.column_stack([xy[ok], z[ok]]))
            have += int(ok.sum())
        if have < n:
            raise ScenarioError(f"rt: found only {have} outdoor UE spots in rt.area {s.area} after "
                                f"{_MAX_DRAW_CHUNKS * chunk} draws; widen rt.area or lower rt.min_distance")
        return np.concatenate(found)[:n], seconds

    # ---------------------------------------------------------------- batch
    def sample(self, seed: int) -> ChannelBatch:
        """Exactly ``batch_size`` UE channels (tracks with a ``[trajectory]``), fully determined by ``seed``.

        Returns:
            :class:`ChannelBatch`: ``a`` [rows, num_ant, num_paths] complex64 (each row's paths
            first), ``ue_pos`` [rows, 3] float32 relative to the transmitter [m], ``los`` [rows];
            rows = ``batch_size``, or ``batch_size`` x T (track-major, every instant with a path).

        Raises:
            ScenarioError: receivers keep having no path (e.g. the transmitter is inside a
                building), so the batch cannot be filled.
        """
        ua, traj = self.scenario.ue_array, self.scenario.trajectory
        t = 1 if traj is None else traj.instants
        tx = torch.as_tensor(self._tx_position, dtype=torch.float64)
        kept_a: list[torch.Tensor] = []
        kept_pos: list[np.ndarray] = []
        kept_los: list[torch.Tensor] = []
        kept_motion: list[np.ndarray] = []
        have, seconds = 0, 0.0
        for round_ in range(_MAX_ROUNDS):
            need = self.batch_size - have
            if need == 0:
                break
            # Replacement rounds trace a few spare receivers so one more round is rarely needed.
            n_draw = need if round_ == 0 else 2 * need + 4
            pos, took = self.draw_positions(n_draw, derive_seed(seed, "drop", round_))
            generator = make_generator(derive_seed(seed, "orientation", round_))
            if traj is None:
                orientation = facing_orientations(torch.as_tensor(pos), tx, ua.jitter_bearing_deg, ua.jitter_tilt_deg,
                                                  generator=generator, bearing_offset_deg=ua.bearing_offset_deg,
                                                  tilt_offset_deg=ua.tilt_offset_deg)
            else:
                tracks = draw_tracks(pos, self.scenario, np.random.default_rng(derive_seed(seed, "trajectory", round_)),
                                     self._accept)
                pos, motion = tracks.pos.reshape(-1, 3), np.stack([tracks.speed, tracks.heading], axis=1)
                orientation = track_orientations(torch.as_tensor(tracks.pos), tx, self.scenario, generator)
            traced = self.trace(pos, orientation.reshape(-1, 3), derive_seed(seed, "paths", round_))
            seconds += took + traced.seconds
            reached = traced.reached.cpu().reshape(-1, t).all(1)
            self.traced_total += reached.numel() * t
            self.dropped_total += int((~reached).sum()) * t
            index = torch.nonzero(reached).flatten()[:need]
            if round_ == 0 and index.numel() == 0 and len(pos):
                raise ScenarioError(f"rt: none of {len(pos)} receivers has a path to the transmitter at "
                                    f"{self.settings.tx_position} in scene {self.settings.scene!r}; "
                                    f"is the transmitter inside a building?")
            rows = (index[:, None] * t + torch.arange(t)).flatten()
            kept_a.append(traced.a[rows.to(traced.a.device)])
            kept_los.append(traced.los[rows.to(traced.los.device)])
            kept_pos.append(pos[rows.numpy()])
            if traj is not None:
                kept_motion.append(motion[index.numpy()])
            have += index.numel()
        if have < self.batch_size:
            raise ScenarioError(f"rt: could not find {self.batch_size} {'tracks' if traj else 'receivers'} with a path "
                                f"in {_MAX_ROUNDS} rounds (scene {self.settings.scene!r}); check rt.tx_position and rt.area")
        a = compact_paths(kept_a)
        if self.scenario.side != "ue":  # [n, rx_ant * tx_ant, p] -> [n, rx_ant, tx_ant, p]
            bs = self.scenario.bs_array
            a = a.reshape(a.shape[0], -1, bs.num_rows * bs.num_cols, a.shape[-1])
        ue_pos = torch.as_tensor(np.concatenate(kept_pos) - self._tx_position, dtype=torch.float32)
        batch = ChannelBatch(a=a, ue_pos=ue_pos.to(self.device), los=torch.cat(kept_los).to(self.device),
                             sionna_seconds=seconds, instants=t)
        if traj is not None:
            motion = torch.as_tensor(np.concatenate(kept_motion), dtype=torch.float32)
            batch.speed, batch.heading = motion[:, 0].to(self.device), motion[:, 1].to(self.device)
        return batch

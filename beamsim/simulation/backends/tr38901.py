"""3GPP TR 38.901 stochastic channels (UMi, UMa, RMa) from ``sionna.phy.channel.tr38901``.

Downlink, one BS sector: the BS at the origin serves UEs dropped per TR 38.901 by Sionna's
``gen_single_sector_topology``. With the UE sweeping (``side = "ue"``) the BS has one
omnidirectional antenna (the fixed reference beam); with ``side = "bs"`` or ``"pair"`` it has
the ``[bs_array]`` panel, turned by the topology to face the sector centre with its downtilt.
Each UE carries a uniform planar array whose boresight points at the BS with uniform jitter in
bearing and tilt. One call simulates ``drops_per_batch`` independent drops of ``ues_per_drop`` UEs.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import torch

from beamsim.config import derive_seed
from beamsim.scenarios import Scenario
from beamsim.simulation.backends.base import ChannelBatch, facing_orientations

__all__ = ["TR38901Backend", "sionna_seed"]


@contextlib.contextmanager
def sionna_seed(seed: int) -> Iterator[None]:
    """Seed Sionna's generators for the duration of the block.

    Sionna's ``config.seed`` also reseeds torch's global generators; beamsim never changes
    its caller's global RNG, so their states are restored on exit.
    """
    import sionna.phy

    cpu_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        sionna.phy.config.seed = int(seed) % (2**31 - 1)
        yield
    finally:
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


class TR38901Backend:
    """Channels of a ``backend = "tr38901"`` scenario.

    Args:
        scenario: the scenario (its ``link`` table, ``ue_array`` and carrier frequency).
        device: torch device for Sionna's computation.
        force_los: ``True``/``False`` forces every outdoor UE into LoS/NLoS (tests); ``None``
            draws LoS states per TR 38.901.
    """

    def __init__(self, scenario: Scenario, device: torch.device, force_los: bool | None = None) -> None:
        from sionna.phy.channel.tr38901 import RMa, UMa, UMi, PanelArray

        link = scenario.link
        assert link is not None  # guaranteed by Scenario validation
        self.scenario = scenario
        self.device = torch.device(device)
        self.force_los = force_los
        self.batch_size = link.drops_per_batch * link.ues_per_drop
        dev = str(self.device)
        fc = scenario.carrier_frequency
        arr = scenario.ue_array
        self.ut_array = PanelArray(num_rows_per_panel=arr.num_rows, num_cols_per_panel=arr.num_cols,
                                   polarization="single", polarization_type="V", antenna_pattern=arr.pattern,
                                   carrier_frequency=fc, element_vertical_spacing=arr.spacing,
                                   element_horizontal_spacing=arr.spacing, precision="single", device=dev)
        bs = scenario.bs_array if scenario.side != "ue" else None
        self.bs_array = PanelArray(num_rows_per_panel=bs.num_rows if bs else 1, num_cols_per_panel=bs.num_cols if bs else 1,
                                   polarization="single", polarization_type="V",
                                   antenna_pattern=bs.pattern if bs else "omni", carrier_frequency=fc,
                                   element_vertical_spacing=bs.spacing if bs else 0.5,
                                   element_horizontal_spacing=bs.spacing if bs else 0.5, precision="single", device=dev)
        model_cls = {"umi": UMi, "uma": UMa, "rma": RMa}[link.model]
        kwargs = dict(carrier_frequency=fc, ut_array=self.ut_array, bs_array=self.bs_array, direction="downlink",
                      enable_pathloss=link.enable_pathloss, enable_shadow_fading=link.enable_shadow_fading,
                      precision="single", device=dev)
        if link.model != "rma":
            kwargs["o2i_model"] = link.o2i_model
        if scenario.trajectory is not None:
            kwargs["enable_spatial_consistency"] = True
        self._model_cls, self._model_kwargs = model_cls, kwargs

    def _topology(self) -> tuple[torch.Tensor, ...]:
        from sionna.phy.channel import gen_single_sector_topology

        link = self.scenario.link
        return gen_single_sector_topology(
            link.drops_per_batch, link.ues_per_drop, link.model, min_bs_ut_dist=link.min_bs_ut_dist, isd=link.isd,
            bs_height=link.bs_height, min_ut_height=link.min_ut_height, max_ut_height=link.max_ut_height,
            indoor_probability=link.indoor_probability, precision="single", device=str(self.device))

    def sample(self, seed: int) -> ChannelBatch:
        """``batch_size`` channels (tracks of ``instants`` each with a ``[trajectory]``), fully
        determined by ``seed``."""
        if self.scenario.trajectory is not None:
            return self._sample_tracks(seed)
        arr = self.scenario.ue_array
        jitter = torch.Generator().manual_seed(derive_seed(seed, "orientation"))
        with sionna_seed(derive_seed(seed, "sionna")):
            ut_loc, bs_loc, _, bs_orient, ut_vel, in_state = self._topology()
            orient = facing_orientations(ut_loc.cpu(), bs_loc.cpu(), arr.jitter_bearing_deg, arr.jitter_tilt_deg,
                                         generator=jitter, bearing_offset_deg=arr.bearing_offset_deg,
                                         tilt_offset_deg=arr.tilt_offset_deg).to(ut_loc.device)
            return self._channels(ut_loc, bs_loc, orient, bs_orient, ut_vel, in_state)

    def _sample_tracks(self, seed: int) -> ChannelBatch:
        """Each UE of the topology moves on a straight track; its ``T`` positions are ``T`` UT
        entries of one snapshot, tied by one spatial-consistency track id (TR 38.901 7.6.3.1 in
        Sionna), so the instants of a track see correlated clusters and LoS geometry that follows
        the UE. Cluster drift between instants (7.6.3.2) is not modelled."""
        traj, arr = self.scenario.trajectory, self.scenario.ue_array
        draw = torch.Generator().manual_seed(derive_seed(seed, "trajectory"))
        jitter = torch.Generator().manual_seed(derive_seed(seed, "orientation"))
        with sionna_seed(derive_seed(seed, "sionna")):
            ut_loc, bs_loc, _, bs_orient, _, in_state = self._topology()
            b, u, t = ut_loc.shape[0], ut_loc.shape[1], traj.instants
            speeds = torch.tensor(traj.speeds_kmh, dtype=torch.float64) / 3.6
            speed = speeds[torch.randint(len(speeds), (b, u), generator=draw)]
            heading = 2 * math.pi * torch.rand(b, u, generator=draw, dtype=torch.float64)
            velocity = torch.stack([speed * heading.cos(), speed * heading.sin(), torch.zeros_like(speed)], dim=-1)
            times = torch.arange(t, dtype=torch.float64) * traj.period_ms / 1000.0
            loc = ut_loc.cpu().double()[:, :, None] + velocity[:, :, None] * times[None, None, :, None]  # [b, u, t, 3]
            orient = facing_orientations(loc, bs_loc.cpu().double()[:, :, None], 0.0, 0.0, generator=jitter,
                                         bearing_offset_deg=arr.bearing_offset_deg, tilt_offset_deg=arr.tilt_offset_deg)
            turn = 2 * torch.rand((2, b, u, 1), generator=jitter, dtype=torch.float64) - 1  # one jitter per track
            orient[..., 0] += turn[0] * math.radians(arr.jitter_bearing_deg)
            orient[..., 1] += turn[1] * math.radians(arr.jitter_tilt_deg)
            dev = ut_loc.device
            flat = {"ut_loc": loc.reshape(b, u * t, 3), "orient": orient.reshape(b, u * t, 3),
                    "vel": velocity[:, :, None].expand(b, u, t, 3).reshape(b, u * t, 3)}
            flat = {k: v.to(dev, ut_loc.dtype) for k, v in flat.items()}
            in_track = in_state[:, :, None].expand(b, u, t).reshape(b, u * t)
            track = torch.arange(u, device=dev).repeat_interleave(t)
            batch = self._channels(flat["ut_loc"], bs_loc, flat["orient"], bs_orient, flat["vel"], in_track, track)
        batch.instants = t
        batch.speed, batch.heading = speed.reshape(-1).float(), heading.reshape(-1).float()
        return batch

    def _channels(self, ut_loc: torch.Tensor, bs_loc: torch.Tensor, orient: torch.Tensor, bs_orient: torch.Tensor,
                  ut_vel: torch.Tensor, in_state: torch.Tensor, track: torch.Tensor | None = None) -> ChannelBatch:
        """One channel call for the UT entries given (inside :func:`sionna_seed`)."""
        start = time.perf_counter()
        # A fresh model per batch: no state carries over, so a shard equals the same batches of a whole run.
        channel = self._model_cls(**self._model_kwargs)
        los = "random" if self.force_los is None else self.force_los
        channel.set_topology(ut_loc, bs_loc, orient, bs_orient, ut_vel, in_state, los=los,
                             spatial_consistency_track_ids=track)
        a, _ = channel(num_time_samples=1, sampling_frequency=1.0)
        seconds = time.perf_counter() - start
        los_state = channel._scenario.los  # [batch, num_bs, num_ut]
        n = a.shape[0] * a.shape[1]
        # a: [batch, num_ut, num_ut_ant, num_bs=1, num_bs_ant, num_paths, 1]
        if self.scenario.side == "ue":
            a = a[:, :, :, 0, 0, :, 0].reshape(n, a.shape[2], a.shape[5])
        else:
            a = a[:, :, :, 0, :, :, 0].reshape(n, a.shape[2], a.shape[4], a.shape[5])
        ue_pos = (ut_loc - bs_loc).reshape(n, 3).float()
        los_flag = los_state[:, 0, :].reshape(n).bool()
        return ChannelBatch(a=a, ue_pos=ue_pos, los=los_flag, sionna_seconds=seconds)

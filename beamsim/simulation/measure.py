"""Beam measurement: RSRP per beam, measurement noise and grid, label, masks."""

from __future__ import annotations

import torch

__all__ = ["beam_rsrp", "pair_rsrp", "apply_measurement", "best_beam", "checkerboard_mask", "draw_masks"]


def beam_rsrp(a: torch.Tensor, codebook: torch.Tensor, tx_power_dbm: float) -> torch.Tensor:
    """Wideband RSRP of every beam, non-coherent over paths.

    RSRP_b = Ptx + 10 log10( sum_p |w_b^H a_p|^2 ).

    Args:
        a: [n, num_ant, num_paths] complex, per-path channel at the UE antennas (array response,
            pathloss and shadowing included).
        codebook: [num_beams, num_ant] complex, unit-norm combining vectors.
        tx_power_dbm: transmit power of the reference beam [dBm].

    Returns:
        [n, num_beams] float32, RSRP [dBm]; beams with no power get -inf replaced by -300 dBm.
    """
    y = torch.einsum("ba,nap->nbp", codebook.conj(), a.to(codebook.dtype))
    power = (y.real.square() + y.imag.square()).sum(dim=-1)
    rsrp = tx_power_dbm + 10.0 * torch.log10(power.double().clamp_min(1e-300))
    return rsrp.clamp_min(-300.0).float()


def pair_rsrp(a: torch.Tensor, tx_codebook: torch.Tensor, rx_codebook: torch.Tensor,
              tx_power_dbm: float) -> torch.Tensor:
    """Wideband RSRP of every Tx-Rx beam pair, non-coherent over paths.

    RSRP_tr = Ptx + 10 log10( sum_p |w_r^H A_p conj(c_t)|^2 ): BS beam t sent with precoder
    conj(c_t) (so it points where combiner c_t would), received with combiner w_r.

    Args:
        a: [n, num_rx_ant, num_tx_ant, num_paths] complex, per-path channel between the BS and
            the UE antennas (array responses, pathloss and shadowing included).
        tx_codebook: [num_tx_beams, num_tx_ant] complex, unit-norm BS beams.
        rx_codebook: [num_rx_beams, num_rx_ant] complex, unit-norm UE combiners ([[1]] for one
            antenna).
        tx_power_dbm: transmit power of a beam [dBm].

    Returns:
        [n, num_tx_beams, num_rx_beams] float32, RSRP [dBm]; no power gives -300 dBm.
    """
    # Two pairwise contractions in a fixed order: a three-operand einsum lets torch reorder
    # them when the opt_einsum package is installed, which moves the last bits of the result.
    y = torch.einsum("rk,nklp->nrlp", rx_codebook.conj(), a.to(rx_codebook.dtype))
    y = torch.einsum("nrlp,tl->ntrp", y, tx_codebook.conj())
    power = (y.real.square() + y.imag.square()).sum(dim=-1)
    rsrp = tx_power_dbm + 10.0 * torch.log10(power.double().clamp_min(1e-300))
    return rsrp.clamp_min(-300.0).float()


def apply_measurement(rsrp: torch.Tensor, noise_std_db: float, report_step_db: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Measured RSRP: optional Gaussian noise [dB], then optional rounding to the reporting grid.

    Args:
        rsrp: [...] float32, true RSRP [dBm].
    """
    out = rsrp
    if noise_std_db > 0:
        noise = torch.randn(rsrp.shape, generator=generator, dtype=torch.float32)
        out = out + noise_std_db * noise.to(rsrp.device)
    if report_step_db > 0:
        out = torch.round(out / report_step_db) * report_step_db
    return out


def best_beam(rsrp: torch.Tensor) -> torch.Tensor:
    """Label: index of the strongest beam over *all* beams of the true RSRP.

    Args:
        rsrp: [n, num_beams] float.
    Returns:
        [n] int64.
    """
    return rsrp.argmax(dim=-1)


def checkerboard_mask(num_el: int, num_az: int) -> torch.Tensor:
    """The fixed Set-B mask: beams with (e + a) even are measured. [num_el, num_az] bool."""
    e = torch.arange(num_el).view(-1, 1)
    a = torch.arange(num_az).view(1, -1)
    return (e + a) % 2 == 0


def draw_masks(n: int, num_el: int, num_az: int, kind: str, measured_fraction: float,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Measurement masks for ``n`` samples.

    ``fixed``: the checkerboard for every sample when ``measured_fraction`` is 0.5, else the
    first ``round(fraction * beams)`` beams of a fixed seeded order (the same for all samples).
    ``random``: ``round(fraction * beams)`` beams drawn per sample.

    Returns:
        [n, num_el, num_az] bool.
    """
    from beamsim.dataset import random_masks

    beams = num_el * num_az
    measured = max(1, round(measured_fraction * beams))
    if kind == "fixed":
        if measured * 2 == beams:
            mask = checkerboard_mask(num_el, num_az)
        else:
            order = torch.randperm(beams, generator=torch.Generator().manual_seed(0))[:measured]
            mask = torch.zeros(beams, dtype=torch.bool)
            mask[order] = True
            mask = mask.view(num_el, num_az)
        return mask.expand(n, num_el, num_az).clone()
    if kind == "random":
        return random_masks(n, (num_el, num_az), measured, generator)
    raise ValueError(f"unknown mask kind {kind!r}: use 'fixed' or 'random'")

"""The checks and conversions that make a data set of a source's arrays (:func:`beam_arrays`).

The second step of ``beamsim import`` (:mod:`beamsim.exchange`): the arrays a reader returned
(:mod:`beamsim.exchange_read`, :mod:`beamsim.exchange_csv`), as stored, become a
:class:`~beamsim.dataset.BeamArrays` and the attributes the file records about them. Every
disagreement (shapes, values, options that do not fit the data) is one
:class:`~beamsim.errors.DataFileError` or ``ValueError`` line naming the array and the sample.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from beamsim.dataset import MEASURED_MARGIN_DB, RSRP_MAX_DBM, RSRP_MIN_DBM, BeamArrays
from beamsim.errors import DataFileError

__all__ = ["MaskPattern", "MASK_PATTERNS", "DEFAULT_TEST_FRACTION", "MAX_BEAMS", "beam_arrays"]

MaskPattern = Literal["checkerboard", "subset", "random"]
#: The Set B patterns ``--mask-pattern`` applies (the ones scenarios use).
MASK_PATTERNS: tuple[str, ...] = ("checkerboard", "subset", "random")
#: The test share of a split drawn on import (the scenarios' default).
DEFAULT_TEST_FRACTION = 0.2
#: The most beams a grid may hold: labels are int16.
MAX_BEAMS = 2**15


def _refuse_inf(name: str, value: np.ndarray, where: str, nan_ok: bool) -> None:
    bad = np.isinf(value) if nan_ok else ~np.isfinite(value)
    if bad.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape)]
        what = "infinite" if nan_ok else "NaN or infinite"
        hint = "; NaN marks a beam that was not measured" if nan_ok else ""
        raise DataFileError(f"{where}: '{name}' holds {int(bad.sum())} {what} value(s), the first at index "
                            f"{first}{hint}")


def _refuse_outside(name: str, value: np.ndarray, low: float, high: float, where: str, meaning: str) -> None:
    bad = (value < low) | (value > high)  # NaN is neither
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
        raise DataFileError(f"{where}: '{name}' must lie in [{low:g}, {high:g}] ({meaning}); {int(bad.sum())} value(s) "
                            f"do not, the first {value[first].item()!r} at index {list(first)}")


def _flag(name: str, value: np.ndarray, where: str) -> np.ndarray:
    """A bool array from bool or 0/1 integers."""
    if value.dtype.kind != "b" and ((value != 0) & (value != 1)).any():
        found = np.unique(value)[:5].tolist()
        raise DataFileError(f"{where}: '{name}' must be bool or the integers 0 and 1; found {found}")
    return value.astype(bool)


def _shape_error(name: str, value: np.ndarray, expected: str, where: str) -> DataFileError:
    return DataFileError(f"{where}: '{name}' has shape {list(value.shape)}, expected {expected}")


def _grid_from_directions(dirs: np.ndarray, where: str) -> tuple[np.ndarray, tuple[int, int]]:
    """(order [K]: the source index of each grid beam, row-major; the grid) from (azimuth,
    elevation) [deg]: one row per elevation (rounded to 1e-4 deg), highest first, azimuth rising."""
    elevation, azimuth = np.round(dirs[:, 1], 4), np.round(dirs[:, 0], 4)
    levels = np.unique(elevation)[::-1]
    rows = [np.flatnonzero(elevation == level) for level in levels]
    sizes = {len(r) for r in rows}
    if len(sizes) != 1:
        raise DataFileError(f"{where}: 'beam_dirs' do not form a grid: {len(levels)} elevations hold "
                            f"{min(sizes)} to {max(sizes)} beams each; give --grid ROWSxCOLS instead")
    order = np.concatenate([r[np.argsort(azimuth[r], kind="stable")] for r in rows])
    for r in rows:
        if len(np.unique(azimuth[r])) != len(r):
            raise DataFileError(f"{where}: 'beam_dirs' name one direction twice (elevation {elevation[r[0]]:g} deg)")
    return order, (len(rows), len(rows[0]))


def _beam_layout(raw: dict, where: str, grid: tuple[int, int] | None):
    """(grid (R, C), order [K] int64 or None (the source order is the grid's), directions [R C, 2]
    float32 or None, whether the beam axis is flat in the source)."""
    rsrp, dirs = raw["rsrp"], raw.get("beam_dirs")
    if rsrp.ndim not in (2, 3) or 0 in rsrp.shape:
        raise _shape_error("rsrp", rsrp, "[N, rows, cols] or [N, K] with N, rows, cols, K >= 1", where)
    beams = int(np.prod(rsrp.shape[1:]))
    if dirs is not None:
        if dirs.shape != (beams, 2):
            raise _shape_error("beam_dirs", dirs, f"[{beams}, 2] (azimuth, elevation) [deg] per beam", where)
        dirs = dirs.astype(np.float64)
        _refuse_inf("beam_dirs", dirs, where, nan_ok=False)
    order = None
    if rsrp.ndim == 3:
        found = tuple(int(s) for s in rsrp.shape[1:])
        if grid is not None and tuple(grid) != found:
            raise DataFileError(f"{where}: --grid {grid[0]}x{grid[1]} does not match 'rsrp' [N, rows, cols] = "
                                f"{list(rsrp.shape)}; leave --grid out")
        grid = found
    elif grid is not None:
        if grid[0] * grid[1] != beams:
            raise DataFileError(f"{where}: --grid {grid[0]}x{grid[1]} holds {grid[0] * grid[1]} beams, 'rsrp' "
                                f"{list(rsrp.shape)} has K = {beams}")
    elif dirs is not None:
        order, grid = _grid_from_directions(dirs, where)
    else:
        raise DataFileError(f"{where}: 'rsrp' is [N, K] = {list(rsrp.shape)}: give --grid ROWSxCOLS (beam k = "
                            "row * cols + col) or a 'beam_dirs' [K, 2] table to lay the beams out in a grid")
    if beams > MAX_BEAMS:
        raise DataFileError(f"{where}: {beams} beams; a data set holds at most {MAX_BEAMS} (labels are int16)")
    directions = None if dirs is None else (dirs if order is None else dirs[order]).astype(np.float32)
    return grid, order, directions, rsrp.ndim == 2


def _on_grid(raw: dict, name: str, where: str, n: int, grid: tuple[int, int], order, flat: bool,
             shared: bool = False) -> np.ndarray | None:
    """``raw[name]`` as [N, R, C] (beams reordered by ``order``); ``shared`` allows one map for all."""
    value = raw.get(name)
    if value is None:
        return None
    tail = (grid[0] * grid[1],) if flat else tuple(grid)
    if shared and value.shape == tail:
        value = np.broadcast_to(value, (n, *tail))
    if value.shape != (n, *tail):
        either = f" or {list(tail)} (one map for all samples)" if shared else ""
        raise _shape_error(name, value, f"{[n, *tail]}{either}, as 'rsrp'", where)
    if order is not None:
        value = value[:, order]
    return value.reshape(n, *grid)


def _per_sample(raw: dict, name: str, where: str, n: int, tail: tuple[int, ...] = ()) -> np.ndarray | None:
    value = raw.get(name)
    if value is not None and value.shape != (n, *tail):
        raise _shape_error(name, value, f"{[n, *tail]} (N = {n} samples, from 'rsrp')", where)
    return value


def _pattern_mask(pattern: str, size: int | None, n: int, grid: tuple[int, int], seed: int) -> np.ndarray:
    """[N, R, C] bool: the Set B ``pattern`` with ``size`` beams (default half of them)."""
    rows, cols = grid
    beams = rows * cols
    if pattern == "checkerboard":
        board = (np.arange(rows)[:, None] + np.arange(cols)[None, :]) % 2 == 0  # as beamsim.simulation.measure
        if size is not None and size != int(board.sum()):
            raise ValueError(f"--mask-pattern checkerboard measures {int(board.sum())} of the {rows} x {cols} beams; "
                             "leave --set-b-size out or use --mask-pattern subset")
        return np.broadcast_to(board, (n, rows, cols)).copy()
    size = max(1, beams // 2) if size is None else int(size)
    if not 1 <= size <= beams:
        raise ValueError(f"--set-b-size must lie in 1..{beams} (the {rows} x {cols} grid), not {size}")
    if pattern == "subset":
        from beamsim.scenarios.beams import subset_mask

        return np.broadcast_to(subset_mask(rows, cols, size), (n, rows, cols)).copy()
    if pattern == "random":
        import torch

        from beamsim.config import derive_seed
        from beamsim.encoding import random_masks

        generator = torch.Generator().manual_seed(derive_seed(seed, "import-mask"))
        return random_masks(n, grid, size, generator).numpy()
    raise ValueError(f"unknown mask pattern {pattern!r}: use one of {', '.join(MASK_PATTERNS)}")


def _wide_attrs(setb: np.ndarray, grid: tuple[int, int], where: str) -> dict:
    """The format-version-2 attributes of a wide Set B (:mod:`beamsim.simulation.layout`)."""
    from beamsim.scenarios.beams import wide_blocks, wide_centres, wide_tiling

    kr, kc = int(setb.shape[1]), int(setb.shape[2])
    try:
        tiling = wide_tiling(grid[0], grid[1], kr * kc)
    except ValueError as exc:
        raise DataFileError(f"{where}: 'rsrp_setb' {list(setb.shape)}: {exc}") from None
    if tiling != (kr, kc):
        raise DataFileError(f"{where}: 'rsrp_setb' has {kr} x {kc} wide beams; {kr * kc} wide beams tile the "
                            f"{grid[0]} x {grid[1]} grid as {tiling[0]} x {tiling[1]} (beamsim.scenarios.beams)")
    return {"format_version": 2, "side": "bs", "set_b": "wide", "set_b_size": kr * kc,
            "set_a_shape": np.array(grid, dtype=np.int64), "set_b_shape": np.array([kr, kc], dtype=np.int64),
            "set_b_blocks": wide_blocks(*grid, kr * kc).astype(np.int16),
            "set_b_centres": wide_centres(*grid, kr * kc).astype(np.int16)}


def _labels(label: np.ndarray | None, rsrp: np.ndarray, unknown: np.ndarray, order: np.ndarray | None,
            grid: tuple[int, int], where: str) -> tuple[np.ndarray, str]:
    """([N] int64 grid beam index of each label, where the labels came from). ``rsrp``: [N, R, C]
    float32 [dBm] with NaN filled; ``unknown``: [N, R, C] bool, where the source had NaN."""
    n, (rows, cols) = len(rsrp), grid
    if label is None:
        gaps = unknown.reshape(n, -1).any(axis=1)
        if gaps.any():
            i = int(np.argmax(gaps))
            r, c = divmod(int(np.argmax(unknown[i].reshape(-1))), cols)
            raise DataFileError(f"{where}: sample {i} has no RSRP (NaN) for beam ({r}, {c}) and no label; the label "
                                f"is the strongest of all beams, so {int(gaps.sum())} sample(s) with a NaN need a "
                                "'label' or their missing RSRP")
        return rsrp.reshape(n, -1).argmax(axis=1), "strongest beam of rsrp"
    _refuse_outside("label", label, 0, rows * cols - 1, where, f"a beam index of the {rows} x {cols} grid")
    label = label.astype(np.int64)
    if order is not None:  # the source's beam k is grid beam inverse[k]
        inverse = np.empty(rows * cols, dtype=np.int64)
        inverse[order] = np.arange(rows * cols)
        label = inverse[label]
    blind = unknown.reshape(n, -1)[np.arange(n), label]
    if blind.any():
        i = int(np.argmax(blind))
        raise DataFileError(f"{where}: the label of sample {i} names beam {divmod(int(label[i]), cols)}, whose "
                            f"RSRP is NaN ({int(blind.sum())} sample(s)); the KPIs measure RSRP loss against the "
                            "label's beam: give its RSRP")
    return label, "given"


def _mask(mask: np.ndarray | None, unmeasured: np.ndarray, pattern: str | None, size: int | None,
          grid: tuple[int, int], seed: int, where: str) -> np.ndarray:
    """[N, R, C] bool: the pattern's mask, else the source's, else all True; never a NaN beam."""
    n = len(unmeasured)
    if pattern == "random" and unmeasured.any():
        raise ValueError("--mask-pattern random needs every beam's RSRP (training draws new masks from all beams); "
                         "this source has NaN beams: use checkerboard or subset")
    if pattern is not None:
        base = _pattern_mask(pattern, size, n, grid, seed)
    else:
        base = np.ones((n, *grid), dtype=bool) if mask is None else _flag("mask", mask, where)
    out = base & ~unmeasured
    empty = ~out.reshape(n, -1).any(axis=1)
    if empty.any():
        raise DataFileError(f"{where}: sample {int(np.argmax(empty))} has no measured beam ({int(empty.sum())} "
                            "sample(s)): the mask and the NaN beams leave nothing to predict from")
    return out


def beam_arrays(raw: dict[str, np.ndarray], where: str, *, grid: tuple[int, int] | None = None,
                mask_pattern: MaskPattern | None = None, set_b_size: int | None = None,
                test_fraction: float | None = None, seed: int = 0) -> tuple[BeamArrays, dict]:
    """Check the arrays of a source (:func:`read_source`) and make the data set of them.

    Args:
        raw: name -> array (module docstring; ``rsrp`` required).
        where: the source's name, for messages.
        grid: (rows, cols) of a flat ``rsrp`` [N, K].
        mask_pattern: a Set B pattern replacing the source's mask (None: the source's, or all).
        set_b_size: beams the ``subset``/``random`` pattern measures (default half the grid).
        test_fraction: test share of a drawn split (default :data:`DEFAULT_TEST_FRACTION`; an
            error when the source has a ``split``).
        seed: seed of the drawn split and random masks.

    Returns:
        (arrays, attrs): the data set, and the attributes the file records about it
        (``mask_kind``, ``seed``, ``labels``, ``nan_beams``, format-version-2 attributes
        for a wide Set B, ``beam_directions`` [R C, 2] float32 (azimuth, elevation) [deg]).

    Raises:
        DataFileError: the arrays disagree with each other or with the format (one line each).
        ValueError: options that do not fit the data.
    """
    if set_b_size is not None and mask_pattern is None:
        raise ValueError("--set-b-size needs --mask-pattern subset or random")
    if mask_pattern is not None and mask_pattern not in MASK_PATTERNS:
        raise ValueError(f"unknown mask pattern {mask_pattern!r}: use one of {', '.join(MASK_PATTERNS)}")
    if test_fraction is not None and not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"--test-fraction must lie in (0, 1), not {test_fraction}")
    rsrp_raw = raw["rsrp"]
    n = int(rsrp_raw.shape[0]) if rsrp_raw.ndim else 0
    grid, order, directions, flat = _beam_layout(raw, where, grid)
    rsrp = _on_grid(raw, "rsrp", where, n, grid, order, flat)
    measured_raw = _on_grid(raw, "rsrp_measured", where, n, grid, order, flat)
    mask_raw = _on_grid(raw, "mask", where, n, grid, order, flat, shared=True)
    label, pos = _per_sample(raw, "label", where, n), _per_sample(raw, "ue_pos", where, n, (3,))
    los, split = _per_sample(raw, "los", where, n), _per_sample(raw, "split", where, n)
    setb = raw.get("rsrp_setb")
    if setb is not None and (setb.ndim != 3 or setb.shape[0] != n or 0 in setb.shape):
        raise _shape_error("rsrp_setb", setb, f"[{n}, kr, kc] (N = {n} samples, kr x kc wide beams)", where)
    if split is not None and test_fraction is not None:
        raise ValueError("the source has a 'split'; --test-fraction applies only to a source without one")

    _refuse_inf("rsrp", rsrp, where, nan_ok=True)
    _refuse_outside("rsrp", rsrp, RSRP_MIN_DBM, RSRP_MAX_DBM, where, "a true RSRP [dBm]")
    unknown = np.isnan(rsrp)
    unmeasured = unknown.copy()
    reported = (RSRP_MIN_DBM - MEASURED_MARGIN_DB, RSRP_MAX_DBM + MEASURED_MARGIN_DB)
    if measured_raw is not None:
        _refuse_inf("rsrp_measured", measured_raw, where, nan_ok=True)
        _refuse_outside("rsrp_measured", measured_raw, *reported, where, "a reported RSRP [dBm]")
        unmeasured |= np.isnan(measured_raw)
    if setb is not None:
        _refuse_inf("rsrp_setb", setb, where, nan_ok=False)
        _refuse_outside("rsrp_setb", setb, *reported, where, "a reported wide-beam RSRP [dBm]")
    if pos is not None:
        pos = pos.astype(np.float64)
        _refuse_inf("ue_pos", pos, where, nan_ok=False)
    rsrp32 = np.where(unknown, RSRP_MIN_DBM, rsrp).astype(np.float32)
    label, labels = _labels(label, rsrp32, unknown, order, grid, where)
    if setb is None:
        mask = _mask(mask_raw, unmeasured, mask_pattern, set_b_size, grid, seed, where)
    else:
        if mask_pattern is not None:
            raise ValueError("--mask-pattern does not apply to a wide Set B ('rsrp_setb': the wide beams are "
                             "the inputs)")
        if mask_raw is not None and _flag("mask", mask_raw, where).any():
            raise DataFileError(f"{where}: with 'rsrp_setb' (wide Set B) 'mask' must be all False")
        mask = np.zeros((n, *grid), dtype=bool)
    if split is None:
        from beamsim.scenarios import DatasetSettings
        from beamsim.simulation.split import assign_split

        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else float(test_fraction)
        split = assign_split(np.zeros((n, 3)), DatasetSettings(samples=n, test_fraction=fraction), seed)
    measured = None
    if measured_raw is not None:
        measured = np.where(np.isnan(measured_raw), RSRP_MIN_DBM, measured_raw).astype(np.float32)
    arrays = BeamArrays(
        rsrp=rsrp32, mask=mask, label=label.astype(np.int16),
        ue_pos=np.zeros((n, 3), np.float32) if pos is None else pos.astype(np.float32),
        los=np.zeros(n, bool) if los is None else _flag("los", los, where),
        split=_flag("split", split, where).astype(np.uint8), rsrp_measured=measured,
        rsrp_setb=None if setb is None else setb.astype(np.float32))

    flat_mask = mask.reshape(n, -1)
    varies = bool((flat_mask != flat_mask[:1]).any())
    redrawable = varies and setb is None and not unmeasured.any() and len(set(flat_mask.sum(axis=1).tolist())) == 1
    attrs = {"mask_kind": "random" if mask_pattern == "random" or redrawable else "fixed",
             "seed": int(seed), "labels": labels, "nan_beams": int(unmeasured.sum()),
             "mask_pattern": mask_pattern or ("source" if mask_raw is not None else "all measured"),
             "total_samples": n, "num_el": grid[0], "num_az": grid[1]}
    if directions is not None:
        attrs["beam_directions"] = directions
    if setb is not None:
        attrs.update(_wide_attrs(setb, grid, where))
    return arrays, attrs

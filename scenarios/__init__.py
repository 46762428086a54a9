"""Scenario files (TOML, shipped as package data) and the frozen :class:`Scenario` they load into.

A scenario fixes everything about a simulated data set except the seed: the channel back-end
(3GPP TR 38.901 stochastic model or a Sionna RT scene), the UE array, the beam codebook, the
measurement, the mask and the data-set size. ``load_scenario("umi")`` reads
``scenarios/umi.toml``; ``load_scenario("path/to/file.toml")`` reads any file of the same shape.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from beamsim import tomlio
from beamsim.errors import ScenarioError
from beamsim.scenarios.beams import subset_strides, wide_tiling
from beamsim.scenarios.trajectory import TrajectorySettings

__all__ = [
    "Scenario", "LinkSettings", "RTSettings", "ArraySettings", "CodebookSettings", "BSArraySettings",
    "BeamSettings", "TrajectorySettings", "MeasurementSettings", "MaskSettings", "DatasetSettings",
    "load_scenario", "list_scenarios", "scenario_from_toml", "scenario_to_toml",
]

Backend = Literal["tr38901", "rt"]
#: Which side sweeps the beams of Set A: the UE (its DFT grid), the BS, or Tx-Rx pairs.
Side = Literal["ue", "bs", "pair"]


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class LinkSettings:
    """TR 38.901 system-level model settings (``backend = "tr38901"``).

    ``None`` means "the value TR 38.901 gives for this model" (Sionna's defaults in
    ``gen_single_sector_topology``).
    """

    model: Literal["umi", "uma", "rma"] = "umi"
    o2i_model: Literal["low", "high"] = "low"
    indoor_probability: float | None = None
    min_bs_ut_dist: float | None = None
    isd: float | None = None
    bs_height: float | None = None
    min_ut_height: float | None = None
    max_ut_height: float | None = None
    enable_pathloss: bool = True
    enable_shadow_fading: bool = True
    drops_per_batch: int = 4
    ues_per_drop: int = 256

    def __post_init__(self) -> None:
        _check(self.model in ("umi", "uma", "rma"), f"link.model must be umi, uma or rma, not {self.model!r}")
        _check(self.o2i_model in ("low", "high"), f"link.o2i_model must be 'low' or 'high', not {self.o2i_model!r}")
        if self.indoor_probability is not None:
            _check(0.0 <= self.indoor_probability <= 1.0, "link.indoor_probability must lie in [0, 1]")
        _check(self.drops_per_batch >= 1 and self.ues_per_drop >= 1,
               "link.drops_per_batch and link.ues_per_drop must be >= 1")


@dataclass(frozen=True)
class RTSettings:
    """Sionna RT settings (``backend = "rt"``): a bundled scene, one transmitter, UEs as receivers."""

    scene: str = "simple_street_canyon"
    tx_position: tuple[float, float, float] = (0.0, 0.0, 10.0)
    ue_height: float = 1.5
    drop: Literal["uniform", "radio_map"] = "uniform"
    area: tuple[float, float, float, float] = (-50.0, 50.0, -50.0, 50.0)
    min_distance: float = 5.0
    max_depth: int = 3
    samples_per_src: int = 100_000
    max_num_paths_per_src: int = 1_000_000
    batch_size: int = 500

    def __post_init__(self) -> None:
        _check(len(self.tx_position) == 3, "rt.tx_position must be [x, y, z]")
        _check(len(self.area) == 4 and self.area[0] < self.area[1] and self.area[2] < self.area[3],
               "rt.area must be [xmin, xmax, ymin, ymax] with min < max")
        _check(self.drop in ("uniform", "radio_map"), "rt.drop must be 'uniform' or 'radio_map'")
        _check(self.max_depth >= 0, "rt.max_depth must be >= 0")
        _check(self.samples_per_src >= 1000, "rt.samples_per_src must be >= 1000")
        _check(self.batch_size >= 1, "rt.batch_size must be >= 1")


@dataclass(frozen=True)
class ArraySettings:
    """UE uniform planar array (elements in the local y-z plane, boresight +x).

    The boresight points at the BS, turned by ``bearing_offset_deg`` (positive: to the left,
    counter-clockwise seen from above) and ``tilt_offset_deg`` (positive: downward), plus
    uniform jitter of +-``jitter_bearing_deg`` and +-``jitter_tilt_deg``.
    """

    num_rows: int = 8
    num_cols: int = 8
    spacing: float = 0.5
    pattern: Literal["38.901", "omni"] = "38.901"
    jitter_bearing_deg: float = 30.0
    jitter_tilt_deg: float = 30.0
    bearing_offset_deg: float = 0.0
    tilt_offset_deg: float = 0.0

    def __post_init__(self) -> None:
        _check(self.num_rows >= 1 and self.num_cols >= 1, "ue_array.num_rows/num_cols must be >= 1")
        _check(self.spacing > 0, "ue_array.spacing (in wavelengths) must be > 0")
        _check(self.pattern in ("38.901", "omni"), "ue_array.pattern must be '38.901' or 'omni'")
        _check(0 <= self.jitter_bearing_deg <= 180 and 0 <= self.jitter_tilt_deg <= 90,
               "ue_array jitter must lie in [0, 180] deg (bearing) and [0, 90] deg (tilt)")


@dataclass(frozen=True)
class CodebookSettings:
    """2-D DFT codebook: oversampled grid, central ``num_el`` x ``num_az`` beams kept."""

    oversampling: int = 2
    num_el: int = 8
    num_az: int = 8

    def __post_init__(self) -> None:
        _check(self.oversampling >= 1, "codebook.oversampling must be >= 1")
        _check(self.num_el >= 1 and self.num_az >= 1, "codebook.num_el/num_az must be >= 1")


@dataclass(frozen=True)
class BSArraySettings:
    """BS uniform planar array (``side = "bs"`` or ``"pair"``): one Set A beam per element.

    Elements in the local y-z plane, boresight +x, turned by Sionna's single-sector topology to
    face the sector centre (its downtilt included). The beams are the orthogonal DFT grid of
    :func:`beamsim.simulation.codebook.orthogonal_codebook`.
    """

    num_rows: int = 4
    num_cols: int = 8
    spacing: float = 0.5
    pattern: Literal["38.901", "omni"] = "38.901"

    def __post_init__(self) -> None:
        _check(self.num_rows >= 1 and self.num_cols >= 1, "bs_array.num_rows/num_cols must be >= 1")
        _check(self.spacing > 0, "bs_array.spacing (in wavelengths) must be > 0")
        _check(self.pattern in ("38.901", "omni"), "bs_array.pattern must be '38.901' or 'omni'")


@dataclass(frozen=True)
class BeamSettings:
    """Set A and Set B (3GPP BM-Case1; :mod:`beamsim.scenarios.beams`).

    ``side``: ``ue`` (the UE's ``[codebook]`` grid; Set B from ``[mask]``, as without this
    table), ``bs`` (the BS's beams; the UE listens with its ``[ue_array]``, e.g. one omni
    element) or ``pair`` (BS beams x the UE's orthogonal receive beams). ``set_b``: ``subset``
    (a fixed lattice of ``set_b_size`` Set A beams) or ``wide`` (``set_b_size`` wide BS beams,
    ``side = "bs"`` only).
    """

    side: Side = "ue"
    set_b: Literal["subset", "wide"] = "subset"
    set_b_size: int = 8

    def __post_init__(self) -> None:
        _check(self.side in ("ue", "bs", "pair"), f"beams.side must be 'ue', 'bs' or 'pair', not {self.side!r}")
        _check(self.set_b in ("subset", "wide"), f"beams.set_b must be 'subset' or 'wide', not {self.set_b!r}")
        _check(self.set_b_size >= 1, "beams.set_b_size must be >= 1")
        _check(self.set_b == "subset" or self.side == "bs", "beams.set_b = 'wide' needs beams.side = 'bs'")


@dataclass(frozen=True)
class MeasurementSettings:
    """RSRP measurement: transmit power, optional noise and reporting grid."""

    tx_power_dbm: float = 30.0
    noise_std_db: float = 0.0
    report_step_db: float = 0.0

    def __post_init__(self) -> None:
        _check(self.noise_std_db >= 0, "measurement.noise_std_db must be >= 0")
        _check(self.report_step_db >= 0, "measurement.report_step_db must be >= 0 (0 = off, 1 = the L1-RSRP grid)")


@dataclass(frozen=True)
class MaskSettings:
    """Which beams are measured: ``fixed`` checkerboard (Set B) or ``random`` per sample."""

    kind: Literal["fixed", "random"] = "fixed"
    measured_fraction: float = 0.5

    def __post_init__(self) -> None:
        _check(self.kind in ("fixed", "random"), f"mask must be 'fixed' or 'random', not {self.kind!r}")
        _check(0.0 < self.measured_fraction <= 1.0, "mask.measured_fraction must lie in (0, 1]")


@dataclass(frozen=True)
class DatasetSettings:
    """Size and split of the data set."""

    samples: int = 30_000
    test_fraction: float = 0.2
    split: Literal["random", "blocks"] = "random"
    block_size_m: float = 40.0

    def __post_init__(self) -> None:
        _check(isinstance(self.samples, int) and self.samples >= 1,
               f"samples must be a positive integer, not {self.samples!r}")
        _check(0.0 < self.test_fraction < 1.0, "dataset.test_fraction must lie in (0, 1)")
        _check(self.split in ("random", "blocks"), "dataset.split must be 'random' or 'blocks'")
        _check(self.block_size_m > 0, "dataset.block_size_m must be > 0")


@dataclass(frozen=True)
class Scenario:
    """A complete, validated simulation setting."""

    name: str
    description: str
    backend: Backend = "tr38901"
    carrier_frequency: float = 28e9
    link: LinkSettings | None = None
    rt: RTSettings | None = None
    ue_array: ArraySettings = field(default_factory=ArraySettings)
    codebook: CodebookSettings = field(default_factory=CodebookSettings)
    beams: BeamSettings | None = None
    bs_array: BSArraySettings | None = None
    trajectory: TrajectorySettings | None = None
    measurement: MeasurementSettings = field(default_factory=MeasurementSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)

    def __post_init__(self) -> None:
        _check(self.backend in ("tr38901", "rt"), f"backend must be 'tr38901' or 'rt', not {self.backend!r}")
        _check(self.carrier_frequency > 0, "carrier_frequency must be > 0 [Hz]")
        if self.backend == "tr38901":
            _check(self.link is not None, "a tr38901 scenario needs a [link] table")
        else:
            _check(self.rt is not None, "an rt scenario needs an [rt] table")
        if self.side != "ue":
            _check(self.bs_array is not None, f"beams.side = {self.side!r} needs a [bs_array] table")
            _check(self.side != "bs" or self.ue_array.num_rows * self.ue_array.num_cols == 1,
                   "beams.side = 'bs' listens with one UE antenna: set ue_array.num_rows = num_cols = 1 "
                   "(or use side = 'pair' for UE receive beams)")
            rows, cols = self.set_a_shape
            if self.beams.set_b == "subset":
                subset_strides(rows, cols, self.beams.set_b_size)
            else:
                _check(self.beams.set_b_size <= rows * cols, f"beams.set_b_size = {self.beams.set_b_size} wide "
                       f"beams is more than the {rows * cols} elements of the BS array")
                wide_tiling(rows, cols, self.beams.set_b_size)

    @property
    def side(self) -> str:
        """Which side sweeps Set A: ``ue`` (also without a ``[beams]`` table), ``bs`` or ``pair``."""
        return "ue" if self.beams is None else self.beams.side

    @property
    def set_a_shape(self) -> tuple[int, int]:
        """(rows, cols) of the Set A grid (see :mod:`beamsim.scenarios.beams`)."""
        if self.side == "ue":
            return self.codebook.num_el, self.codebook.num_az
        bs = self.bs_array
        if self.side == "bs":
            return bs.num_rows, bs.num_cols
        return bs.num_rows * bs.num_cols, self.ue_array.num_rows * self.ue_array.num_cols

    @property
    def num_beams(self) -> int:
        """The size of Set A (the number of classes)."""
        rows, cols = self.set_a_shape
        return rows * cols

    def with_overrides(self, **changes: Any) -> "Scenario":
        """A copy with dataset/mask fields changed: ``samples=``, ``mask=``, ``split=``."""
        dataset, mask = self.dataset, self.mask
        if changes.get("samples") is not None:
            dataset = dataclasses.replace(dataset, samples=changes.pop("samples"))
        if changes.get("split") is not None:
            dataset = dataclasses.replace(dataset, split=changes.pop("split"))
        if changes.get("mask") is not None:
            mask = dataclasses.replace(mask, kind=changes.pop("mask"))
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            raise ValueError(f"unknown scenario override(s): {', '.join(sorted(changes))}")
        return dataclasses.replace(self, dataset=dataset, mask=mask)


_TABLES = {"link": LinkSettings, "rt": RTSettings, "ue_array": ArraySettings, "codebook": CodebookSettings,
           "beams": BeamSettings, "bs_array": BSArraySettings, "trajectory": TrajectorySettings, "measurement": MeasurementSettings, "mask": MaskSettings, "dataset": DatasetSettings}


def _build(cls: type, table: dict[str, Any], where: str, prefix: str = "") -> Any:
    """``cls(**table)``: unknown and missing keys, wrong types and bad values raise :class:`ScenarioError`
    (keys named ``<prefix><key>``, e.g. ``link.model``)."""
    hints = tomlio.field_types(cls)
    unknown = sorted(set(table) - set(hints))
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
                            f"known: {', '.join(sorted(hints))}")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in table]
    if missing:
        raise ScenarioError(f"{where}: missing required key(s) {', '.join(prefix + k for k in missing)}; add them "
                            f"(e.g. {missing[0]} = \"...\")")
    for key, value in table.items():
        if key in _TABLES and not dataclasses.is_dataclass(value):
            raise ScenarioError(f"{where}: {key} must be a table ([{key}]), not {tomlio.shown(value)}")
        try:
            tomlio.check_value(value, hints[key], prefix + key)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def scenario_from_toml(text: str, where: str = "scenario") -> Scenario:
    """Parse and validate scenario TOML text.

    Raises:
        ScenarioError: a syntax error (with its line and column), an unknown table or key, a
            missing required key, a value of the wrong type or out of range (the message names
            ``where`` and the key).
    """
    data = tomlio.parse_toml(text, where, ScenarioError)
    tables = {k: v for k, v in data.items() if k in _TABLES and isinstance(v, dict)}
    top = {k: v for k, v in data.items() if k not in tables}
    unknown = sorted(k for k, v in top.items() if isinstance(v, dict) and k not in tomlio.field_types(Scenario))
    if unknown:
        raise ScenarioError(f"{where}: unknown table(s) {', '.join(unknown)}; known: {', '.join(_TABLES)}")
    built = {name: _build(cls, tables[name], where, f"{name}.") for name, cls in _TABLES.items() if name in tables}
    return _build(Scenario, {**top, **built}, where)


def scenario_to_toml(scenario: Scenario) -> str:
    """The scenario as TOML text; ``scenario_from_toml(scenario_to_toml(s)) == s``."""
    return tomlio.dumps(dataclasses.asdict(scenario))


def list_scenarios() -> dict[str, Scenario]:
    """Every bundled scenario by name, sorted."""
    folder = resources.files(__name__)
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            found[entry.name[:-5]] = scenario_from_toml(entry.read_text(), where=entry.name)
    return found


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A bundled scenario by name (``"umi"``) or a scenario TOML file by path.

    A file is read as :func:`beamsim.tomlio.load_toml` reads one: at most
    :data:`~beamsim.tomlio.MAX_TOML_BYTES`, UTF-8.

    Raises:
        ScenarioError: unknown name (lists the known ones); a missing, oversized, unreadable or
            invalid file (see :func:`scenario_from_toml`).
    """
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or Path(text).is_file():
        path = Path(text)
        text = tomlio.read_toml_text(path, "scenario file", ScenarioError)
        return scenario_from_toml(text, where=f"scenario file {path}")
    entry = resources.files(__name__) / f"{text}.toml"
    if not entry.is_file():
        known = ", ".join(list_scenarios())
        raise ScenarioError(f"unknown scenario {text!r}; known scenarios: {known}")
    return scenario_from_toml(entry.read_text(), where=f"{text}.toml")

"""The settings of a distillation run: one frozen dataclass, nested per concern.

:class:`DistillConfig` holds the run-wide settings (objective, spc, init, model, iterations,
...) and one group per concern (:mod:`beamsim.distill.settings`): ``quantizer``, ``step``,
``matching`` (DM/DC), ``trajectory`` (TM), ``experts``, ``validation``, ``augment``. TOML files
mirror it, one table per group::

    objective = "tm"
    spc = 50
    [quantizer]
    name = "apot"
    bits = 6
    [experts]
    num = 3
    [trajectory]
    syn_steps = 20
    [tm]              # only when trajectory matching runs: the step it takes instead of [step]
    lr_syn = 1.0

A table named after an objective (``[tm]``, ``[dm]``, ``[dc]``) applies only when that objective
runs, after everything else in its file: any setting (by its flat key, e.g. ``lr_syn``, or a
group table such as ``[tm.quantizer]``) that the objective uses instead (trajectory matching on
beam maps takes a smaller step than DM).

The field defaults are the beam defaults and the only place they are written; images change
some of them in ``distill/defaults/image.toml`` (and ``beam.toml`` holds the ``[tm]`` table).
Names of objectives, quantizers, initialisations and models are checked against their
registries.

Every distilled file stores the resolved config as the flat record of format 1
(:meth:`DistillConfig.as_dict`: one key per setting, e.g. ``bits``, ``num_experts``,
``val_every``), and files in that flat form, the config files of beamsim 0.1, still load:
a flat key anywhere means the same setting as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from beamsim import tomlio
from beamsim.distill.allocation import ALLOCATIONS
from beamsim.distill.objectives.registry import objective_names
from beamsim.distill.record import FLAT_KEYS, LATER_KEYS
from beamsim.distill.settings import (DEFAULT_MODEL, AugmentSettings, ExpertPoolSettings, LabelSettings,
                                      MatchingSettings, ParamSettings, QuantizerSettings, StepSettings, TrajectorySettings, ValidationSettings, need)

__all__ = ["DistillConfig", "default_config", "load_config", "read_config", "resolve_config", "shipped_defaults",
           "FLAT_KEYS"]

Modality = Literal["beam", "image"]

#: group name -> its settings class.
GROUPS: dict[str, type] = {"quantizer": QuantizerSettings, "step": StepSettings, "matching": MatchingSettings,
                           "trajectory": TrajectorySettings, "experts": ExpertPoolSettings, "validation": ValidationSettings,
                           "augment": AugmentSettings, "param": ParamSettings, "labels": LabelSettings}
#: The tables an objective may have in a TOML file (see the module docstring).
_OBJECTIVE_TABLES = ("tm", "dm", "dc")


def _known(kind: str, name: str, known: tuple[str, ...] | list[str]) -> None:
    need(name in known, f"unknown {kind} {name!r}: use one of {', '.join(known)}")


@dataclass(frozen=True)
class DistillConfig:
    """Every setting of a QuADD run.

    Attributes:
        objective: ``tm`` trajectory matching, ``dm`` distribution matching, ``dc`` gradient
            matching, ``none`` (the initial selection is the result: a coreset).
        spc: synthetic samples per class.
        init: ``real`` | ``quant-graphcut`` | ``noise`` | ``herding`` | ``kcenter``.
        replacement: classes with fewer than ``spc`` real samples repeat samples (True) or keep
            the ones they have (False).
        model: network used by the objective (a registered model).
        iterations: distillation iterations.
        keep_constant: features constant across the real training set stay at their constant.
        clamp: keep synthetic values inside the real data's range.
        checkpoint_every: iterations between checkpoints (0 = off).
        graphcut_lambda: diversity weight of the ``quant-graphcut`` initialisation.
        allocation: ``fixed`` (``spc`` per class) or ``proportional`` (the same total shared
            in proportion to the class sizes; :mod:`beamsim.distill.allocation`).
        quantizer, step, matching, trajectory, experts, validation, augment, param, labels: the groups of
            :mod:`beamsim.distill.settings`.
    """

    objective: str = "tm"
    spc: int = 50
    init: str = "real"
    replacement: bool = False
    model: str = DEFAULT_MODEL
    iterations: int = 300
    keep_constant: bool = True
    clamp: bool = True
    checkpoint_every: int = 25
    graphcut_lambda: float = 1.0
    allocation: str = "fixed"
    quantizer: QuantizerSettings = field(default_factory=QuantizerSettings)
    step: StepSettings = field(default_factory=StepSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    trajectory: TrajectorySettings = field(default_factory=TrajectorySettings)
    experts: ExpertPoolSettings = field(default_factory=ExpertPoolSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    param: ParamSettings = field(default_factory=ParamSettings)
    labels: LabelSettings = field(default_factory=LabelSettings)

    def __post_init__(self) -> None:
        from beamsim.distill.init import init_methods
        from beamsim.distill.quant import quantizer_names
        from beamsim.models import list_models

        _known("objective", self.objective, objective_names())
        _known("quantizer", self.quantizer.name, [*quantizer_names(), "none"])
        _known("init", self.init, init_methods())
        need(self.model in list_models(), f"unknown model {self.model!r}; known models: {', '.join(list_models())}")
        need(not isinstance(self.spc, bool) and isinstance(self.spc, int) and self.spc >= 1,
             f"--spc must be a positive integer, not {self.spc}")
        need(not isinstance(self.iterations, bool) and isinstance(self.iterations, int) and self.iterations >= 0,
             "--iterations must be >= 0")
        need(isinstance(self.checkpoint_every, int) and self.checkpoint_every >= 0, "checkpoint_every must be >= 0")
        need(self.graphcut_lambda >= 0, "graphcut_lambda must be >= 0")
        _known("allocation", self.allocation, ALLOCATIONS)
        need(self.allocation == "fixed" or self.init != "noise",
             "--init noise draws spc samples for every class: use --allocation fixed")
        need(self.trajectory.max_start_epoch + self.trajectory.expert_epochs <= self.experts.epochs,
             f"max_start_epoch + expert_epochs ({self.trajectory.max_start_epoch + self.trajectory.expert_epochs}) must not exceed "
             f"the experts' training epochs ({self.experts.epochs})")
        need(self.param.name != "palette" or self.quantizer.name == "none",
             f"--param palette is its own quantizer (log2 K-bit index maps): use --quantizer none --bits 32, "
             f"not --quantizer {self.quantizer.name}")
        need(self.param.name != "fred" or self.quantizer.name != "ptq",
             "--param fred quantizes its coefficients in the loop: use --quantizer apot|uniform|fsq (QuADD + FreD) "
             "or none (FreD), not ptq")
        need(not self.labels.soft or (self.objective == "tm" and self.param.name == "none"),
             "soft labels are learned with trajectory matching and stored beside the samples: use --objective tm "
             "and leave --param out")

    @property
    def quantized_in_loop(self) -> bool:
        """True when the quantizer sits inside the distillation loop (its class's ``in_loop``)."""
        from beamsim.distill.quant import quantizer_class

        return self.quantizer.name != "none" and quantizer_class(self.quantizer.name).in_loop

    # ------------------------------------------------------------------ changes
    def replace(self, **changes: Any) -> "DistillConfig":
        """A copy with ``changes`` (None values ignored), validated.

        A change is a run-wide field (``spc=10``), a group as a mapping of its fields
        (``quantizer={"bits": 4}``) or a group object, or a flat key of format 1 (``bits=4``,
        ``num_experts=2``).
        """
        top: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {}
        run_wide = {f.name for f in dataclasses.fields(self)} - set(GROUPS)
        unknown = []
        for key, value in changes.items():
            if value is None:
                continue
            if key in GROUPS and not isinstance(value, (str, int, float)):
                if isinstance(value, GROUPS[key]):
                    value = dataclasses.asdict(value)
                groups.setdefault(key, {}).update(_group_fields(key, value))
            elif key in run_wide:
                top[key] = value
            elif key in FLAT_KEYS:
                group, name = FLAT_KEYS[key]
                groups.setdefault(group, {})[name] = value
            else:
                unknown.append(key)
        if unknown:
            raise ValueError(f"unknown distill setting(s) {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(sorted(FLAT_KEYS))} (or the tables {', '.join(GROUPS)})")
        for group, values in groups.items():
            top[group] = dataclasses.replace(getattr(self, group), **values)
        return dataclasses.replace(self, **top)

    # ------------------------------------------------------------------ records
    def as_dict(self) -> dict[str, Any]:
        """The flat record of format 1 that every file stores (one key per setting, in a fixed
        order; the image-only keys only when set)."""
        out = {}
        for key, (group, name) in FLAT_KEYS.items():
            out[key] = getattr(self, name) if group is None else getattr(getattr(self, group), name)
        for key in LATER_KEYS:
            if out[key] == _DEFAULT_RECORD[key]:
                del out[key]
        return out

    def to_toml(self) -> str:
        """:meth:`as_dict` as TOML text (what a distilled file's settings and a checkpoint's
        fingerprint hold)."""
        return tomlio.dumps(self.as_dict())

    def tables(self) -> dict[str, Any]:
        """The config nested per concern, as a TOML file holds it (``tomlio.dumps`` writes it)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in GROUPS}
        for group in GROUPS:
            out[group] = dataclasses.asdict(getattr(self, group))
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "DistillConfig":
        """The config of a stored flat record (a file's ``settings.config``), or of nested tables."""
        flat, tables = _split(dict(record), "the stored config")
        _check_types(flat, tables)
        return _apply_tables(cls().replace(**flat), tables, objective_tables=True)


#: The defaults of :data:`LATER_KEYS` (a record leaves them out).
_DEFAULT_RECORD = {"dsa": AugmentSettings().dsa, "dsa_strategy": AugmentSettings().strategy,
                   **{key: getattr(ParamSettings(), name) for key, (group, name) in FLAT_KEYS.items()
                      if group == "param"}, "allocation": "fixed", "val_patience": ValidationSettings().patience,
                   **{key: getattr(LabelSettings(), name) for key, (group, name) in FLAT_KEYS.items() if group == "labels"}}


def _group_fields(group: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``group`` in ``values``: its own names, or the flat keys of format 1."""
    own = {f.name for f in dataclasses.fields(GROUPS[group])}
    out = {}
    for key, value in values.items():
        if key in own:
            out[key] = value
        elif key in FLAT_KEYS and FLAT_KEYS[key][0] == group:
            out[FLAT_KEYS[key][1]] = value
        else:
            raise ValueError(f"unknown setting {key!r} in [{group}]; known: {', '.join(sorted(own))}")
    return out


def _split(data: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(keys outside tables, tables) of a parsed TOML document; refuses unknown tables and a table
    where a setting's value belongs."""
    tables = {key: value for key, value in data.items() if isinstance(value, dict)}
    for key in sorted(set(tables) & (set(FLAT_KEYS) - set(GROUPS))):
        tomlio.check_value(tables[key], _hint(key), key)  # raises: a value, not a table
    unknown = sorted(set(tables) - set(GROUPS) - set(_OBJECTIVE_TABLES))
    if unknown:
        raise ValueError(f"{where}: a table must be a group ({', '.join(GROUPS)}) or named after an objective "
                         f"({', '.join(_OBJECTIVE_TABLES)}), not [{'], ['.join(unknown)}]")
    return {key: value for key, value in data.items() if key not in tables}, tables


def _hint(key: str, group: str | None = None) -> Any:
    """The type of setting ``key`` (a flat key, a run-wide field, or a field of ``group``); None if unknown."""
    if group is not None and key in tomlio.field_types(GROUPS[group]):
        return tomlio.field_types(GROUPS[group])[key]
    if key in FLAT_KEYS and (group is None or FLAT_KEYS[key][0] == group):
        owner, name = FLAT_KEYS[key]
        return tomlio.field_types(GROUPS[owner] if owner else DistillConfig)[name]
    if group is None and key in tomlio.field_types(DistillConfig) and key not in GROUPS:
        return tomlio.field_types(DistillConfig)[key]
    return None


def _check_types(flat: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]], prefix: str = "") -> None:
    """Every known setting of a parsed file has its field's type (an unknown one is left to
    :meth:`DistillConfig.replace`, which lists the known ones).

    Raises:
        ValueError: ``<setting> must be <type>, not <value>``.
    """
    for key, value in flat.items():
        if key in GROUPS and key not in FLAT_KEYS:
            raise ValueError(f"{prefix}{key} must be a table ([{key}]), not {tomlio.shown(value)}")
        hint = _hint(key)
        if hint is not None:
            tomlio.check_value(value, hint, prefix + key)
    for table, values in tables.items():
        if table in GROUPS:
            for key, value in values.items():
                hint = _hint(key, table)
                if hint is not None:
                    tomlio.check_value(value, hint, f"{prefix}{table}.{key}")
        elif table in _OBJECTIVE_TABLES:
            inner_flat, inner_tables = _split(dict(values), f"[{prefix}{table}]")
            _check_types(inner_flat, inner_tables, f"{prefix}{table}.")


@contextlib.contextmanager
def _blame(path: str | Path | None) -> Iterator[None]:
    """A ``ValueError`` raised while applying the file ``path`` names it."""
    try:
        yield
    except ValueError as exc:
        text = " ".join(str(exc).split())
        if path is None or text.startswith(f"config file {path}"):
            raise
        raise ValueError(f"config file {path}: {text}") from None


def _apply_tables(cfg: DistillConfig, tables: Mapping[str, Mapping[str, Any]], *,
                  objective_tables: bool) -> DistillConfig:
    """``cfg`` with the group tables, then (when asked) the table of its objective."""
    groups = {table: values for table, values in tables.items() if table in GROUPS}
    if groups:
        cfg = cfg.replace(**groups)
    if objective_tables and cfg.objective in tables:
        cfg = cfg.replace(**tables[cfg.objective])
    return cfg


def read_config(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A user TOML file: (keys outside tables, tables), their types checked; their values are
    validated when applied.

    The file is read as :func:`beamsim.tomlio.load_toml` reads one: at most
    :data:`~beamsim.tomlio.MAX_TOML_BYTES` (1 MiB), UTF-8.

    Raises:
        ValueError: a missing path, a folder, a file over the bound, bytes that are not UTF-8,
            invalid TOML (with its line and column), an unknown table, or a setting of the wrong
            type (the message names the file).
    """
    data = tomlio.load_toml(path, "config file", ValueError)
    with _blame(path):
        flat, tables = _split(data, f"config file {path}")
        _check_types(flat, tables)
    return flat, tables


def load_config(path: str | Path, base: DistillConfig | None = None) -> DistillConfig:
    """``base`` (or the beam defaults) overridden by a TOML file: its keys, its group tables,
    then its table for the resulting objective (e.g. ``[tm]``).

    Raises:
        ValueError: what :func:`read_config` raises, or a value out of range or an unknown
            setting (the message names the file).
    """
    flat, tables = read_config(path)
    with _blame(path):
        return _apply_tables((base or DistillConfig()).replace(**flat), tables, objective_tables=True)


def shipped_defaults(modality: Modality = "beam") -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """What ``distill/defaults/<modality>.toml`` changes in the field defaults: (keys outside
    tables, tables), e.g. the ``[tm]`` table of beam maps."""
    entry = resources.files("beamsim.distill") / "defaults" / f"{modality}.toml"
    if not entry.is_file():
        raise ValueError(f"no distill defaults for modality {modality!r}")
    return _split(tomllib.loads(entry.read_text()), f"{modality}.toml")


def default_config(modality: Modality = "beam", **overrides: Any) -> DistillConfig:
    """The defaults of ``modality`` and the objective's own table, then ``overrides``.

    The objective is ``overrides["objective"]`` when given, else the shipped one; its table
    (see :func:`shipped_defaults`) applies before ``overrides``, so an explicit value always wins.

    >>> default_config("beam").objective, default_config("beam").step.lr_syn
    ('tm', 1.0)
    >>> default_config("beam", objective="dm").step.lr_syn, default_config("beam", lr_syn=3.0).step.lr_syn
    (10.0, 3.0)
    """
    flat, tables = shipped_defaults(modality)
    objective = overrides.get("objective") or flat.get("objective", DistillConfig.objective)
    cfg = _apply_tables(DistillConfig().replace(**{**flat, "objective": objective}), tables, objective_tables=True)
    return cfg.replace(**overrides)


def resolve_config(modality: Modality = "beam", path: str | Path | None = None,
                   defaults: Mapping[str, Any] | None = None, **overrides: Any) -> DistillConfig:
    """What ``beamsim distill`` runs: the shipped defaults with the objective's shipped table,
    ``defaults`` (e.g. a data set's model), the user file ``path`` (its keys and group tables,
    then its table for the objective), then ``overrides`` (None values ignored). The objective
    is the first one given among ``overrides``, the file and the shipped defaults, so
    ``--objective tm`` gets trajectory matching's own defaults unless the file or an option
    sets them.
    """
    user, tables = read_config(path) if path is not None else ({}, {})
    objective = overrides.get("objective") or user.get("objective")
    with _blame(path):  # an error here comes from the file's values
        base = default_config(modality, **{k: v for k, v in (defaults or {}).items() if v is not None},
                              **({"objective": objective} if objective else {}))
        cfg = _apply_tables(base.replace(**user), tables, objective_tables=False)
        cfg = cfg.replace(**tables.get(objective or base.objective, {}))
    return cfg.replace(**overrides)

"""Names of distilled files: one rule for ``beamsim distill`` and the studies.

A distilled set is named by what made it, ``<objective>-<quantizer><bits>-spc<spc>-<init>``
(``f32`` for an unquantized set, ``-repl`` when short classes repeat samples; a
parameterization adds ``-fred<k>`` or ``-palette<K>``, proportional allocation ``-prop``), so a reader
of a folder sees each file's settings. Its checkpoint lies beside it, ``<name>.ckpt.pt``.

>>> from beamsim.distill.config import default_config
>>> set_name(default_config("beam", objective="dm", spc=10, bits=6, init="real", allocation="fixed"))
'dm-apot6-spc10-real'
>>> set_name(default_config("beam", objective="none", quantizer="none", bits=32, init="real", allocation="fixed",
...                          replacement=True), per_class="ipc")
'none-f32-ipc50-real-repl'
>>> set_name(default_config("beam", param="fred", coefficients=8, init="herding", allocation="proportional"))
'tm-apot6-spc50-herding-prop-fred8'
>>> set_name(default_config("beam", soft_labels=True, init="real", allocation="fixed"))
'tm-apot6-spc50-real-soft4x4'
>>> default_output("data/umi.h5", default_config("beam", spc=10, bits=4)).as_posix()  # the beam defaults
'data/distilled/umi-tm-apot4-spc10-herding-prop.h5'
>>> checkpoint_path("runs/a.h5").as_posix()
'runs/a.h5.ckpt.pt'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["set_name", "default_output", "default_image_output", "checkpoint_path"]


def set_name(cfg: DistillConfig, *, per_class: Literal["spc", "ipc"] = "spc") -> str:
    """``<objective>-<quantizer><bits>-<per_class><spc>-<init>[-repl][-prop][-fred<k>|-palette<K>][-soft<k>x<b>]``:
    what made the set.

    Args:
        cfg: the resolved settings of the run.
        per_class: the name of samples per class in the file name (``ipc``, images per
            class, for image sets).
    """
    quant = "f32" if cfg.quantizer.name == "none" else f"{cfg.quantizer.name}{cfg.quantizer.bits}"
    repl = "-repl" if cfg.replacement else ""
    param = {"none": "", "fred": f"-fred{cfg.param.coefficients or 'auto'}",
             "palette": f"-palette{cfg.param.colors}"}[cfg.param.name]
    share = "" if cfg.allocation == "fixed" else f"-{cfg.allocation[:4]}"
    soft = f"-soft{cfg.labels.top_k}x{cfg.labels.bits}" if cfg.labels.soft else ""
    return f"{cfg.objective}-{quant}-{per_class}{cfg.spc}-{cfg.init}{repl}{share}{param}{soft}"


def default_output(data: str | os.PathLike, cfg: DistillConfig) -> Path:
    """``<data folder>/distilled/<data stem>-<set name>.h5``: where ``beamsim distill`` writes
    a beam data set's distillation."""
    data = Path(data)
    return data.parent / "distilled" / f"{data.stem}-{set_name(cfg)}.h5"


def default_image_output(dataset: str, cfg: DistillConfig) -> Path:
    """``distilled/<dataset>-<set name with ipc>.h5`` (in the current folder): where
    ``beamsim distill --dataset <dataset>`` writes."""
    return Path("distilled") / f"{dataset}-{set_name(cfg, per_class='ipc')}.h5"


def checkpoint_path(out: str | os.PathLike) -> Path:
    """The checkpoint of the run writing ``out``: ``<out name>.ckpt.pt`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")

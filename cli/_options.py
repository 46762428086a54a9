"""Option aliases and the fixed choices shared by every command group (typer ``Annotated`` style).

A fixed choice is a :class:`enum.StrEnum`, so ``--help`` lists its values and typer refuses any
other with one line. The choices that name registered things (objectives, quantizers,
initialisations) are checked against their registries by ``tests/cli/test_options.py``; they are
spelled out here so that ``beamsim --help`` does not import torch.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["DeviceOpt", "SeedOpt", "JsonOpt", "DebugOpt", "OptionalPath", "value", "Mask", "Split", "Executor",
           "ExecutorOpt", "AddressOpt", "CpusPerTaskOpt", "Encoding", "Objective", "StudyObjective", "QuantizerName", "GridQuantizer", "InitName", "DatasetName", "Precision", "AugmentName", "DEFAULT_ENCODING_NAME"]


class Mask(StrEnum):
    """``beamsim generate --mask``: which beams are measured."""

    fixed = "fixed"
    random = "random"


class Executor(StrEnum):
    """``--executor``: where independent shards or study points run."""

    serial = "serial"
    ray = "ray"


ExecutorOpt = Annotated[Executor, typer.Option(
    "--executor", help="serial (here, in order) or ray (independent work as Ray tasks; `pip install beamsim\\[ray]`).")]
AddressOpt = Annotated[Optional[str], typer.Option(
    "--address", help="With --executor ray: a running Ray cluster (default: a local instance for this command).")]
CpusPerTaskOpt = Annotated[int, typer.Option("--cpus-per-task", help="With --executor ray: CPU cores each task declares.")]


class Split(StrEnum):
    """``beamsim generate --split``: how samples go to train and test."""

    random = "random"
    blocks = "blocks"


class Encoding(StrEnum):
    """Beam-map input encodings (:data:`beamsim.dataset.Encoding`)."""

    attenuation = "attenuation"
    relative = "relative"


class Objective(StrEnum):
    """Distillation objectives, and ``none`` (the initial selection is the result)."""

    tm = "tm"
    dm = "dm"
    dc = "dc"
    none = "none"


class StudyObjective(StrEnum):
    """The objectives a study distils with."""

    tm = "tm"
    dm = "dm"
    dc = "dc"


class AllocationName(StrEnum):
    """``--allocation``: spc per class (fixed) or the same total in proportion to class sizes (proportional)."""

    fixed = "fixed"
    proportional = "proportional"


class ParamName(StrEnum):
    """``--param``: the samples themselves (none), FreD's DCT coefficients (fred) or AutoPalette (palette)."""

    none = "none"
    fred = "fred"
    palette = "palette"


class QuantizerName(StrEnum):
    """``--quantizer``: in the loop (apot, uniform, fsq), once at the end (ptq), or float32 (none)."""

    apot = "apot"
    uniform = "uniform"
    fsq = "fsq"
    ptq = "ptq"
    none = "none"


class GridQuantizer(StrEnum):
    """``beamsim study --quantizer``: the quantizer of a grid of quantized sets."""

    apot = "apot"
    uniform = "uniform"
    fsq = "fsq"
    ptq = "ptq"


class InitName(StrEnum):
    """``--init``: how the synthetic set starts."""

    real = "real"
    quant_graphcut = "quant-graphcut"
    noise = "noise"
    herding = "herding"
    kcenter = "kcenter"


class Precision(StrEnum):
    """``beamsim evaluate --precision``: bfloat16 autocast in training, or plain float32."""

    bf16 = "bf16"
    fp32 = "fp32"


class AugmentName(StrEnum):
    """``beamsim evaluate --augment``: DSA for images and none for beam maps (auto), or forced."""

    auto = "auto"
    dsa = "dsa"
    none = "none"


class DatasetName(StrEnum):
    """``beamsim distill --dataset``: a beam data-set file (``beam``) or an image set."""

    beam = "beam"
    digits = "digits"
    cifar10 = "cifar10"
    cifar100 = "cifar100"
    imagefolder = "imagefolder"


#: What every ``--encoding`` defaults to: ``beamsim.dataset.DEFAULT_ENCODING``, named here without
#: importing torch when the CLI starts (``tests/cli/test_options.py`` keeps the two in step).
DEFAULT_ENCODING_NAME = "attenuation"


def value(choice: StrEnum | str | None) -> str | None:
    """The plain string of an option's choice (None stays None)."""
    return None if choice is None else str(choice.value if isinstance(choice, StrEnum) else choice)


DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda (or cuda:N)", show_default=True)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same output bytes.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout, no progress bar.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
OptionalPath = Optional[Path]

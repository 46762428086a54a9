"""Option aliases shared by every command group (typer ``Annotated`` style)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["DeviceOpt", "SeedOpt", "JsonOpt", "DebugOpt"]

DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda", show_default=True)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same output bytes.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout, no progress bar.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
OptionalPath = Optional[Path]

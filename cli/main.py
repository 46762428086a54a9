"""The ``beamsim`` console script: joins every command group (one file each) on one app."""

from __future__ import annotations

from beamsim.cli._app import ERRORS, app

# Command groups: each file registers its commands on `app` (or adds a sub-typer).
from beamsim.cli import bench as _bench  # noqa: F401
from beamsim.cli import bench_quant as _bench_quant  # noqa: F401
from beamsim.cli import compress as _compress  # noqa: F401
from beamsim.cli import distill as _distill  # noqa: F401
from beamsim.cli import evaluate as _evaluate  # noqa: F401
from beamsim.cli import generate as _generate  # noqa: F401
from beamsim.cli import info as _info  # noqa: F401
from beamsim.cli import scenarios as _scenarios  # noqa: F401
from beamsim.cli import study as _study  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    app(args=argv, prog_name="beamsim")


if __name__ == "__main__":
    main()

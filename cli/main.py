"""The ``beamsim`` console script.

Every command group lives in its own file and is joined here. Errors are mapped in one
place (:class:`_ErrorMappingGroup`): bad input gives one line on stderr and exit code 1;
``--debug`` (or ``BEAMSIM_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import click
import typer
from typer.core import TyperGroup

from beamsim.errors import BeamsimError

__all__ = ["app", "main", "ERRORS"]

#: Exceptions that mean "bad input or environment": one line, exit code 1.
ERRORS: tuple[type[BaseException], ...] = (BeamsimError, ValueError, TypeError, OSError, KeyError)


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("BEAMSIM_DEBUG", "") not in ("", "0")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    return " ".join(text.split())


class _ErrorMappingGroup(TyperGroup):
    """A click group that turns known exceptions into one stderr line and exit code 1."""

    def invoke(self, ctx: click.Context):  # noqa: D102 - click API
        debug = _debug_requested() or bool((ctx.obj or {}).get("debug"))
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except click.UsageError as exc:
            if debug:
                raise
            click.echo(f"beamsim: error: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("beamsim: interrupted; no partial output was written", err=True)
            ctx.exit(130)
        except ERRORS as exc:
            if debug:
                raise
            click.echo(f"beamsim: error: {_one_line(exc)}", err=True)
            ctx.exit(1)


app = typer.Typer(
    cls=_ErrorMappingGroup,
    name="beamsim",
    help="Simulate mmWave beam-management data with Sionna, distil it with QuADD, evaluate it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(ctx: typer.Context,
          debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    ctx.obj = {"debug": debug}
    if debug:
        os.environ["BEAMSIM_DEBUG"] = "1"


# Command groups: each file registers its commands on `app` (or adds a sub-typer).
from beamsim.cli import bench as _bench  # noqa: E402,F401
from beamsim.cli import generate as _generate  # noqa: E402,F401
from beamsim.cli import info as _info  # noqa: E402,F401
from beamsim.cli import scenarios as _scenarios  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    app(args=argv, prog_name="beamsim")


if __name__ == "__main__":
    main()

"""The typer application object and the one place where errors become exit codes.

Command files register on :data:`app` (``from beamsim.cli._app import app``); ``beamsim.cli.main``
imports them all. Bad input gives one line on stderr and exit code 1; ``--debug`` (or
``BEAMSIM_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from beamsim.errors import BeamsimError

__all__ = ["app", "ERRORS"]

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
    """A command group that turns known exceptions into one stderr line and exit code 1."""

    def invoke(self, ctx: typer.Context):  # noqa: D102 - click API
        def debug() -> bool:  # read after the root callback has stored --debug in ctx.obj
            return _debug_requested() or bool((ctx.obj or {}).get("debug"))

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as exc:  # usage errors: bad option value, unknown command
            if debug():
                raise
            typer.echo(f"beamsim: error: {_one_line(exc)}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("beamsim: interrupted; no partial output was written", err=True)
            raise typer.Exit(130) from None
        except ERRORS as exc:
            if debug():
                raise
            typer.echo(f"beamsim: error: {_one_line(exc)}", err=True)
            raise typer.Exit(1) from None


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

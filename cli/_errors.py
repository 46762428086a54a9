"""The one place where exceptions become exit codes.

Bad input or environment (:class:`~beamsim.errors.BeamsimError`, ``ValueError``, ``OSError``)
gives one line on stderr and exit code 1; ``--debug`` (or ``BEAMSIM_DEBUG=1``) shows the
traceback instead. Any other exception is a bug: its traceback is kept, followed by one line
asking to report it (exit code 1). Ctrl-C gives one line and exit code 130; SIGTERM (see
:mod:`beamsim.cli._signals`) one line and exit code 143.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from typer.core import TyperGroup

from beamsim.cli._signals import SIGTERM_EXIT, Terminated
from beamsim.errors import BeamsimError
from beamsim.h5safe import DEFAULT_MAX_READ_BYTES, MAX_READ_BYTES_ENV, format_bytes

__all__ = ["ERRORS", "ErrorMappingGroup", "one_line", "memory_line", "BUG_LINE"]

#: Exceptions that mean "bad input or environment": one line, exit code 1.
ERRORS: tuple[type[BaseException], ...] = (BeamsimError, ValueError, OSError)
#: What follows the traceback of an unexpected exception.
BUG_LINE = ("beamsim: internal error: this is a bug in beamsim, not in your input; please report it "
            "with the command and the traceback above")


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("BEAMSIM_DEBUG", "") not in ("", "0")


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its class name when it has none)."""
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.split())


def memory_line(exc: MemoryError) -> str:
    """The one line for running out of memory."""
    detail = f" ({one_line(exc)})" if str(exc).strip() else ""
    return (f"out of memory{detail}: this machine could not hold what the command needed; a file may declare "
            f"more data than the machine has: lower {MAX_READ_BYTES_ENV} (bytes, default "
            f"{format_bytes(DEFAULT_MAX_READ_BYTES)}) so such files are refused before reading, "
            "or free memory or use smaller settings")


class ErrorMappingGroup(TyperGroup):
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
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            typer.echo(f"beamsim: error: {' '.join(message.split())}", err=True)
            raise typer.Exit(1) from None
        except Terminated:
            typer.echo("beamsim: terminated (SIGTERM); no partial output was written", err=True)
            raise typer.Exit(SIGTERM_EXIT) from None
        except KeyboardInterrupt:
            typer.echo("beamsim: interrupted; no partial output was written", err=True)
            raise typer.Exit(130) from None
        except MemoryError as exc:
            if debug():
                raise
            typer.echo(f"beamsim: error: {memory_line(exc)}", err=True)
            raise typer.Exit(1) from None
        except ERRORS as exc:
            if debug():
                raise
            typer.echo(f"beamsim: error: {one_line(exc)}", err=True)
            raise typer.Exit(1) from None
        except Exception:
            if debug():
                raise
            traceback.print_exc(file=sys.stderr)
            typer.echo(BUG_LINE, err=True)
            raise typer.Exit(1) from None

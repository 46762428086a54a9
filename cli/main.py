"""The ``beamsim`` console script: one ``typer.Typer`` per command file, joined here.

Each command file owns its app (``generate.app``, ``study.app``, ...); this module adds them to
the root app, whose command group (:class:`~beamsim.cli._errors.ErrorMappingGroup`) turns bad
input into one line on stderr.
"""

from __future__ import annotations

import typer

from beamsim.cli import bench, compress, distill, evaluate, export, generate, import_data, info, scenarios, study
from beamsim.cli._errors import ErrorMappingGroup
from beamsim.cli._signals import sigterm_raises

__all__ = ["app", "main"]

app = typer.Typer(
    cls=ErrorMappingGroup,
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


for _commands in (generate.app, import_data.app, export.app, info.app, scenarios.app, evaluate.app, distill.app,
                  compress.app):
    app.add_typer(_commands)  # top-level commands
app.add_typer(study.app, name="study")
app.add_typer(bench.app, name="bench")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script (SIGTERM ends a command as Ctrl-C does, exit code 143)."""
    with sigterm_raises():
        app(args=argv, prog_name="beamsim")


if __name__ == "__main__":
    main()

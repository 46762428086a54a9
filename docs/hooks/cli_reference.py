"""MkDocs hook: the CLI page, rendered from the typer app at build time so that it cannot drift.

A page asks for the reference with a line ``<!-- cli-reference -->``; ``on_page_markdown``
replaces it with one section per command of ``beamsim.cli.main.app`` (the click command tree of
``typer.main.get_command``, walked in the order ``beamsim --help`` lists it, hidden commands
left out), each holding that command's ``--help`` exactly as a terminal of :data:`WIDTH`
columns shows it without colour.
"""

from __future__ import annotations

import re

import typer
from mkdocs.exceptions import PluginError
from typer.testing import CliRunner

MARKER = "<!-- cli-reference -->"
#: Terminal width of the rendered help (``COLUMNS``); tests/test_docs.py renders it the same way.
WIDTH = 100
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def commands(command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every visible command under a click ``command``, depth first: (path of names, command).

    Typer carries its own copy of click (``typer._click``), so a group is told by its
    ``list_commands``, not by ``isinstance`` against the ``click`` package.
    """
    found = [(path, command)]
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command, info_name=path[-1] if path else "beamsim")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found += commands(sub, (*path, name))
    return found


def help_text(app: typer.Typer, path: tuple[str, ...]) -> str:
    """``beamsim PATH --help`` at :data:`WIDTH` columns, no colour, trailing blanks removed."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="beamsim", env={"COLUMNS": str(WIDTH)})
    if result.exit_code != 0:
        raise PluginError(f"beamsim {' '.join(path)} --help exited {result.exit_code}: {result.output}")
    lines = [line.rstrip() for line in ANSI.sub("", result.output).splitlines()]
    return "\n".join(lines).strip("\n")


def reference() -> str:
    """The Markdown of every command's help, one section each."""
    from beamsim.cli.main import app

    sections = []
    for path, _ in commands(typer.main.get_command(app)):
        title = " ".join(("beamsim", *path))
        sections.append(f"## `{title}`\n\n```text\n{help_text(app, path)}\n```\n")
    return "\n".join(sections)


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())

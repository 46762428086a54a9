"""Where results and progress go: results on stdout, progress and logs on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from beamsim.records import to_jsonable

__all__ = ["stdout", "stderr", "print_json", "print_table", "progress_bar"]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False)


def print_json(document: dict) -> None:
    """Print one JSON document on stdout (values through :func:`beamsim.records.to_jsonable`)."""
    print(json.dumps(to_jsonable(document), indent=2, sort_keys=False))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table on stdout."""
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[str(v) for v in row])
    stdout.print(table)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields a callable ``advance(n)``.

    Disabled (a no-op) for ``--json`` runs so that stdout carries only the document. When the
    run fails, the bar is taken away before the error is reported.
    """
    if not enabled:
        yield lambda n=1: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=stderr, transient=False) as prog:
        task = prog.add_task(description, total=total)
        try:
            yield lambda n=1: prog.advance(task, n)
        except BaseException:
            prog.remove_task(task)  # a failed run leaves its one error line, not a half-drawn bar
            raise

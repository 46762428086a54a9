"""SIGTERM (a scheduler's stop, ``kill PID``) ends a command as Ctrl-C does.

The handler raises :class:`Terminated` in the main thread; it unwinds through every
``atomic_path`` block, which removes its temporary file, and the error table
(:class:`~beamsim.cli._errors.ErrorMappingGroup`) prints one line and exits with
:data:`SIGTERM_EXIT` (128 + 15, the shell's code for a process ended by SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["Terminated", "SIGTERM_EXIT", "sigterm_raises"]

#: Exit code of a command stopped by SIGTERM (Ctrl-C gives 130).
SIGTERM_EXIT = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (a KeyboardInterrupt, so every cleanup that handles Ctrl-C runs)."""


def _raise_terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the cleanup
    raise Terminated("terminated by SIGTERM")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated`; the previous handler comes back after."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

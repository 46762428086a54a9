"""One distillation per output at a time: an advisory lock file beside the output.

Two runs writing the same ``--out`` would share its checkpoint (``<out>.ckpt.pt``): each would
overwrite the other's, and ``--resume`` or the final clean-up would read or delete a checkpoint
that is not its own. :func:`hold_output` takes an exclusive ``fcntl.flock`` on
``<out>.lock`` (:func:`lock_path`) for the whole run; a second run finds it held and is
refused in one line naming the holder's pid and the fix (wait, or choose another ``--out``).

The kernel releases a flock when its process ends, however it ends, so a lock file left by a
killed run (SIGKILL) is simply taken over by the next run; a run that ends otherwise (success,
error, Ctrl-C, SIGTERM) removes the file. The holder writes ``<pid>@<host>`` into it, for the
message only. flock is advisory and per host; on network file systems it is as reliable as
their locking.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from beamsim.errors import OutputBusyError

__all__ = ["lock_path", "hold_output"]

#: Attempts to lock a file that its previous holder removes at the same moment.
_ATTEMPTS = 20


def lock_path(out: str | os.PathLike) -> Path:
    """``<out>.lock``: the lock file of the output ``out``.

    >>> lock_path("runs/d.h5").as_posix()
    'runs/d.h5.lock'
    """
    out = Path(out)
    return out.with_name(out.name + ".lock")


def _holder(fd: int, wait_s: float = 1.0) -> str:
    """Who holds the lock: the ``<pid>@<host>`` its holder writes right after locking (waited
    for up to ``wait_s``, since a refused run can look between the two)."""
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        pid, _, host = text.partition("@")
        if pid.isdigit():
            return f"pid {pid}" + (f" on {host}" if host else "")
        if time.monotonic() >= deadline:
            return "a run that is starting"
        time.sleep(0.02)


@contextlib.contextmanager
def hold_output(out: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``out`` within the block; yields the lock file's path.

    Raises:
        OutputBusyError: another run holds it (the message names its pid and the fix).
        OSError: the lock file cannot be created or locked.
    """
    path = lock_path(out)
    for _ in range(_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputBusyError(f"{out} is being written by another beamsim run ({holder}; lock file {path}): "
                                  "wait for it to finish, or choose another --out") from None
        except OSError as exc:
            os.close(fd)
            raise OSError(f"cannot lock {path} ({exc.strerror or exc}); choose an --out on a local disk") from None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)  # its holder removed the file between our open and our lock: lock the new one
    else:
        raise OSError(f"cannot lock {path}: other runs keep replacing it; choose another --out")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # removed while still held: a run waiting on the old file sees it replaced
        os.close(fd)

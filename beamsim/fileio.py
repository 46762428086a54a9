"""Atomic file writes: write to a temporary file beside the target, then rename.

A temporary file is named ``.<name>.<pid>@<host>.<random><suffix>`` (for example
``.d.h5.4242@node1.k3j_x9ab.h5.tmp``): a run killed with SIGKILL, which no handler sees, leaves
at most that one file. It is never read as an output (a hidden name with a temporary suffix),
and the next write of the same output on the same host removes it once its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable", "open_hdf5", "remove_stale_temporaries", "read_text_bounded"]


def _host() -> str:
    """This machine's name, reduced to letters, digits and dashes (it goes into file names)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a recycled pid counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike, suffix: str = ".tmp") -> list[Path]:
    """Remove the temporary files of ``path`` that killed runs on this host left behind.

    Only files named as :func:`atomic_path` names them, written on this host by a process
    that no longer runs, are removed; those of live runs (or of other hosts sharing the folder)
    are kept. Returns the removed paths.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)@{re.escape(_host())}\.[A-Za-z0-9_]+{re.escape(suffix)}")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            match = pattern.fullmatch(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def check_writable(path: str | os.PathLike) -> Path:
    """Create the parent folder of ``path`` and check that a file can be written there.

    Raises:
        PermissionError / OSError with a message naming the folder.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create output folder {parent}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise IsADirectoryError(f"output path {path} is a folder; give a file name")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"output folder {parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception (KeyboardInterrupt included, and the CLI's SIGTERM exception) the
    temporary file is removed and ``path`` is left untouched, so an interrupted run never
    leaves a partial file. Concurrent writers of one ``path`` each write their own temporary
    file; the last rename wins and the file is always one writer's complete output. Temporary
    files of killed runs are removed first (:func:`remove_stale_temporaries`).
    """
    path = check_writable(path)
    remove_stale_temporaries(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{_host()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def open_hdf5(path: str | os.PathLike):
    """Open an HDF5 file for reading, with one clear error for each way it can fail.

    Raises:
        DataFileError: missing file, a folder, a truncated file, or not HDF5 at all.
    """
    import h5py

    from beamsim.errors import DataFileError

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    if path.is_dir():
        raise DataFileError(f"{path}: is a folder, not a data file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise DataFileError(f"{path}: the file is truncated (shorter than its HDF5 header says)") from None
        raise DataFileError(f"{path}: not an HDF5 file (corrupt, truncated or of another format)") from None


def read_text_bounded(path: str | os.PathLike, limit: int, what: str,
                      error: type[Exception] | None = None) -> str:
    """The UTF-8 text of a small file, reading at most ``limit + 1`` bytes of it.

    Args:
        path: the file.
        limit: the most bytes the file may hold [bytes].
        what: what the file is, for the messages (``"config file"``, ``"scenario file"``).
        error: the exception class raised (default :class:`~beamsim.errors.DataFileError`).

    Raises:
        ``error``: a missing path, a folder or other non-regular file, a file larger than
            ``limit``, an unreadable file, or bytes that are not UTF-8 (the message names the
            file, the reason and the fix).
    """
    from beamsim.errors import DataFileError
    from beamsim.h5safe import format_bytes

    error = error or DataFileError
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} {path} is a folder, not a file; give the path of the file itself")
    if not stat.S_ISREG(mode):
        raise error(f"{what} {path} is not a regular file (a device, pipe or socket); give a file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # never more than the bound, whatever the file says
    except OSError as exc:
        raise error(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{what} {path} is larger than {format_bytes(limit)}, the most a {what} may hold; "
                    "check that it is the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} {path} is not UTF-8 text (byte {exc.start}, line {line}); save it as UTF-8") from None

"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable", "open_hdf5"]


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

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is left untouched, so an interrupted run never leaves a partial file.
    """
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
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

"""Point Dr.Jit at a usable LLVM before Sionna RT is imported.

Sionna RT runs on Mitsuba 3 / Dr.Jit. Without CUDA it uses the LLVM variant
(``llvm_ad_mono_polarized``), for which Dr.Jit loads ``libLLVM`` at ``import drjit`` time from
``DRJIT_LIBLLVM_PATH`` or its own guess. LLVM 14 and 15 (Debian 12's default) abort the whole
process on the first ray-tracing kernel ("LLVM ERROR: Cannot select ... fmaximum"); 16 and newer
work. :func:`ensure_drjit_llvm` finds the newest libLLVM >= 16 on the system and sets
``DRJIT_LIBLLVM_PATH`` before Dr.Jit is first imported; :func:`import_sionna_rt` imports
``sionna.rt`` with a working variant or raises :class:`~beamsim.errors.BackendUnavailableError`
with one line saying what to install. The TR 38.901 back-end never needs any of this.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

from beamsim.errors import BackendUnavailableError

__all__ = [
    "MIN_LLVM_MAJOR", "LLVM_ENV_VAR", "LLVM_SEARCH_DIRS", "INSTALL_HINT",
    "llvm_version_from_path", "find_libllvm", "ensure_drjit_llvm", "require_drjit_llvm",
    "import_sionna_rt",
]

#: Oldest LLVM major version that Dr.Jit's LLVM back-end runs Sionna RT with.
MIN_LLVM_MAJOR = 16

#: Environment variable Dr.Jit reads at import time.
LLVM_ENV_VAR = "DRJIT_LIBLLVM_PATH"

#: Folders (glob patterns) searched for ``libLLVM*.so*`` / ``libLLVM*.dylib``, in this order.
LLVM_SEARCH_DIRS: tuple[str, ...] = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/llvm-*/lib",           # Debian / Ubuntu llvm-N packages
    "/usr/lib64",
    "/usr/lib64/llvm*/lib",          # Fedora / RHEL llvmN packages
    "/usr/lib",
    "/usr/lib/llvm*/lib",            # Arch (llvm14, ...) and others
    "/usr/local/lib",
    "/usr/local/opt/llvm/lib",       # Homebrew (Intel)
    "/usr/local/opt/llvm@*/lib",
    "/opt/homebrew/opt/llvm/lib",    # Homebrew (Apple silicon)
    "/opt/homebrew/opt/llvm@*/lib",
    "/opt/local/libexec/llvm-*/lib",  # MacPorts
)

INSTALL_HINT = (
    f"Sionna RT on the CPU needs LLVM >= {MIN_LLVM_MAJOR}: install libllvm19 "
    f"(apt-get install libllvm19) or set {LLVM_ENV_VAR} to a libLLVM of version {MIN_LLVM_MAJOR} or newer"
)

# libLLVM-19.so, libLLVM-14.so.1, libLLVM-14.0.6.so.1, libLLVM-17git.so, libLLVM.so.19.1,
# libLLVM.so, libLLVM.dylib, libLLVM-19.dylib, libLLVM.19.dylib
_NAME = re.compile(
    r"^libLLVM"
    r"(?:-(?P<dash>\d+(?:\.\d+)*)[A-Za-z0-9_+~]*)?"
    r"(?:\.(?P<pre>\d+(?:\.\d+)*))?"
    r"\.(?:so|dylib)"
    r"(?:\.(?P<post>\d+(?:\.\d+)*)[A-Za-z0-9_+~-]*)?$"
)
# llvm-14, llvm14, llvm@17, llvm-mp-16 (folder names that carry the version)
_DIR = re.compile(r"^llvm(?:-mp)?[-@]?(\d+)(?:\.\d+)*$")
_VERSION_DIR = re.compile(r"^(\d+)(?:\.\d+)+")   # Homebrew Cellar: .../llvm/19.1.7/lib

# ELF e_machine of the host, to skip libraries built for another architecture.
_ELF_MACHINE = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183, "i386": 3, "i686": 3,
                "ppc64le": 21, "ppc64": 21, "s390x": 22, "riscv64": 243}


def _parse(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _version_from_name(name: str) -> tuple[int, ...] | None:
    m = _NAME.match(name)
    if m is None:
        return None
    for group in ("dash", "pre", "post"):
        if m.group(group):
            return _parse(m.group(group))
    return None


def _version_from_dirs(path: Path) -> tuple[int, ...] | None:
    parts = path.parent.parts
    for i in range(len(parts) - 1, -1, -1):
        m = _DIR.match(parts[i])
        if m:
            return (int(m.group(1)),)
        m = _VERSION_DIR.match(parts[i])
        if m and i > 0 and parts[i - 1].lower().startswith("llvm"):
            return _parse(m.group(0))
    return None


def llvm_version_from_path(path: str | Path) -> tuple[int, ...] | None:
    """The LLVM version a ``libLLVM`` path stands for, or None when it cannot be told.

    The file name is read first (``libLLVM-19.so`` -> (19,), ``libLLVM.so.19.1`` -> (19, 1),
    ``libLLVM-15.so.1`` -> (15,)), then the name the path resolves to (``libLLVM.so`` ->
    ``libLLVM-14.so.1``), then the folders (``/usr/lib/llvm-14/lib/libLLVM.so`` -> (14,)).

    >>> llvm_version_from_path("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1")
    (19, 1)
    >>> llvm_version_from_path("libLLVM-15.so.1")
    (15,)
    >>> llvm_version_from_path("libLLVM-14.0.6.so.1")
    (14, 0, 6)
    >>> llvm_version_from_path("/opt/homebrew/Cellar/llvm/19.1.7/lib/libLLVM.dylib")
    (19, 1, 7)
    >>> llvm_version_from_path("libLLVMSupport.a") is None
    True
    """
    path = Path(path)
    if _NAME.match(path.name) is None:
        return None
    version = _version_from_name(path.name)
    if version is None:
        try:
            resolved = path.resolve()
        except OSError:
            resolved = path
        if resolved.name != path.name:
            version = _version_from_name(resolved.name)
        if version is None:
            version = _version_from_dirs(path) or _version_from_dirs(resolved)
    return version


def _built_for_host(path: Path) -> bool:
    """True when ``path`` is an ELF library for this machine (or a Mach-O file on macOS)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if head[:4] == b"\x7fELF" and len(head) == 20:
        want = _ELF_MACHINE.get(platform.machine().lower())
        if want is None:
            return True
        order = "little" if head[5] == 1 else "big"
        return int.from_bytes(head[18:20], order) == want
    return sys.platform == "darwin"


def _candidates(search_dirs: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for pattern in search_dirs:
        for folder in sorted(glob.glob(str(pattern))):
            for name_pattern in ("libLLVM*.so*", "libLLVM*.dylib"):
                found.extend(sorted(Path(folder).glob(name_pattern)))
    return found


def find_libllvm(search_dirs: Sequence[str | Path] | None = None,
                 min_major: int = MIN_LLVM_MAJOR) -> Path | None:
    """The newest usable ``libLLVM`` shared library, or None.

    Usable: a file (or a link to one) whose version (:func:`llvm_version_from_path`) has a major
    number >= ``min_major`` and that is built for this machine. Libraries whose version cannot
    be told are skipped. Among equal versions the first one found wins.

    Args:
        search_dirs: folders or glob patterns of folders; default :data:`LLVM_SEARCH_DIRS`.
        min_major: oldest acceptable LLVM major version.
    """
    dirs = LLVM_SEARCH_DIRS if search_dirs is None else search_dirs
    best: tuple[tuple[int, ...], Path] | None = None
    seen: set[Path] = set()
    for path in _candidates(dirs):
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        version = llvm_version_from_path(path)
        if version is None or version[0] < min_major or not _built_for_host(real):
            continue
        if best is None or version > best[0]:
            best = (version, path)
    return None if best is None else best[1]


def ensure_drjit_llvm(search_dirs: Sequence[str | Path] | None = None) -> str | None:
    """Make ``DRJIT_LIBLLVM_PATH`` point at a usable LLVM; call before Dr.Jit is imported.

    When the variable is already set it is respected (and checked); otherwise the newest usable
    library (:func:`find_libllvm`) is written into it. Dr.Jit reads the variable once, when
    ``drjit`` is first imported: setting it later changes nothing in this process.

    Returns:
        The path in ``DRJIT_LIBLLVM_PATH`` afterwards, or None when it is unset and no usable
        library was found (Sionna RT then only works with CUDA).

    Raises:
        BackendUnavailableError: ``DRJIT_LIBLLVM_PATH`` names a missing file or an LLVM older
            than :data:`MIN_LLVM_MAJOR` (which would abort the process inside Dr.Jit).
    """
    current = os.environ.get(LLVM_ENV_VAR)
    if current:
        if os.sep in current and not Path(current).is_file():
            raise BackendUnavailableError(f"{LLVM_ENV_VAR}={current} does not exist; {INSTALL_HINT}")
        version = llvm_version_from_path(current)
        if version is not None and version[0] < MIN_LLVM_MAJOR:
            raise BackendUnavailableError(
                f"{LLVM_ENV_VAR}={current} is LLVM {'.'.join(map(str, version))}, which aborts Dr.Jit; "
                f"{INSTALL_HINT}")
        return current
    found = find_libllvm(search_dirs)
    if found is None:
        return None
    os.environ[LLVM_ENV_VAR] = str(found)
    return str(found)


def require_drjit_llvm(search_dirs: Sequence[str | Path] | None = None) -> str:
    """Like :func:`ensure_drjit_llvm`, but a missing LLVM raises.

    Raises:
        BackendUnavailableError: no usable LLVM and ``DRJIT_LIBLLVM_PATH`` unset (the message
            says what to install), or the variable is unusable.
    """
    path = ensure_drjit_llvm(search_dirs)
    if path is None:
        raise BackendUnavailableError(INSTALL_HINT)
    return path


def _cuda_present() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - torch missing or broken CUDA: treat as absent
        return False


def _check_loaded_llvm(variant: str) -> None:
    """Raise when an LLVM variant runs on an LLVM that will abort the process."""
    if not variant.startswith("llvm"):
        return
    import drjit as dr
    try:
        version = tuple(dr.detail.llvm_version())
    except Exception:  # noqa: BLE001 - an inactive LLVM back-end
        version = ()
    if not version or version[0] <= 0:
        raise BackendUnavailableError(f"Dr.Jit's LLVM back-end is inactive; {INSTALL_HINT}")
    if version[0] < MIN_LLVM_MAJOR:
        raise BackendUnavailableError(
            f"Dr.Jit loaded LLVM {'.'.join(map(str, version))}, which aborts Sionna RT "
            f"(drjit was imported before beamsim could choose); set {LLVM_ENV_VAR} before starting "
            f"Python. {INSTALL_HINT}")


def import_sionna_rt() -> ModuleType:
    """Import ``sionna.rt`` with a Mitsuba variant that works here.

    A variant chosen before (``mitsuba.set_variant``) is respected. Otherwise Sionna RT picks
    ``cuda_ad_mono_polarized`` when CUDA works and ``llvm_ad_mono_polarized`` on the CPU; for
    the latter, :func:`ensure_drjit_llvm` has pointed Dr.Jit at LLVM >= 16 first.

    Raises:
        BackendUnavailableError: no CUDA and no usable LLVM, or Sionna RT fails to import.
    """
    mi = sys.modules.get("mitsuba")
    variant = mi.variant() if mi is not None else None
    if variant is not None:
        _check_loaded_llvm(str(variant))
    elif "drjit" not in sys.modules:
        path = ensure_drjit_llvm()
        if path is None and not _cuda_present() and sys.platform != "darwin":
            raise BackendUnavailableError(INSTALL_HINT)
    elif not _cuda_present() and sys.platform != "darwin":
        _check_loaded_llvm("llvm")  # drjit was imported earlier and has loaded its LLVM already
    try:
        import mitsuba
        import sionna.rt as rt
    except ImportError as exc:
        raise BackendUnavailableError(f"Sionna RT cannot be imported ({exc}); {INSTALL_HINT}") from None
    _check_loaded_llvm(str(mitsuba.variant()))
    return rt

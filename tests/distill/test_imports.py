"""beamsim.distill is modality-agnostic: no module of it may pull in Sionna (or Dr.Jit, TensorFlow)."""

import subprocess
import sys
from pathlib import Path

DISTILL = Path(__file__).resolve().parents[2] / "distill"


def distill_modules() -> list[str]:
    names = []
    for path in sorted(DISTILL.rglob("*.py")):
        parts = [p for p in path.relative_to(DISTILL).with_suffix("").parts if p != "__init__"]
        names.append(".".join(["beamsim.distill", *parts]))
    return names


def test_distill_never_imports_sionna():
    modules = distill_modules()
    assert "beamsim.distill.quadd" in modules and "beamsim.distill.objectives.trajectory" in modules
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "from beamsim.distill import save, load, APoTQuantizer, QuADD\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sionna', 'drjit', 'mitsuba', 'tensorflow'))\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

import subprocess
import sys

MODULES = ["beamsim.distill", "beamsim.distill.quant", "beamsim.distill.bits", "beamsim.distill.packing",
           "beamsim.distill.container", "beamsim.distill.bench"]


def test_distill_never_imports_sionna():
    code = ("import importlib, sys\n"
            f"for name in {MODULES!r}: importlib.import_module(name)\n"
            "from beamsim.distill import save, load, APoTQuantizer\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sionna', 'drjit', 'mitsuba', 'tensorflow'))\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

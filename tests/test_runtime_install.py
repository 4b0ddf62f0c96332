"""A clean `pip install .` (no torch) gives a working CLI: the daemon ships without PyTorch.

scripts/test.sh builds .venv-runtime with `scripts/setup.sh runtime .venv-runtime` before the suite runs.
"""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-runtime"

pytestmark = pytest.mark.skipif(not (VENV / "bin" / "midibridge").exists(),
                                reason="no runtime venv: run scripts/setup.sh runtime .venv-runtime")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd="/")


def test_runtime_venv_has_no_torch():
    assert run(str(VENV / "bin" / "python"), "-c", "import torch").returncode != 0


def test_help_doctor_and_analyze_work_without_torch(tmp_path):
    exe = str(VENV / "bin" / "midibridge")
    assert run(exe, "--help").returncode == 0
    doctor = run(exe, "doctor", "--json")
    assert doctor.returncode == 0 and '"onnxruntime"' in doctor.stdout, doctor.stderr
    analysis = run(exe, "analyze", str(REPO / "bridge" / "assets" / "examples" / "chorale.mid"), "--json")
    assert analysis.returncode == 0 and "F# minor" in analysis.stdout, analysis.stderr

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "bridge" / "assets" / "examples"
PYTHON = sys.executable


@pytest.fixture
def chorale_path() -> Path:
    return EXAMPLES / "chorale.mid"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test touches the user's real data dir or index."""
    monkeypatch.setenv("MIDIBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MIDIBRIDGE_DB", raising=False)
    yield


def run_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env

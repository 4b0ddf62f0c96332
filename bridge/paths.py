"""Where midibridge keeps things. Every location can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "MIDIBRIDGE_HOME"  # root of the user data dir
ENV_DB = "MIDIBRIDGE_DB"  # library index location (a directory)
ENV_MODELS = "MIDIBRIDGE_MODELS"  # directory holding the exported models

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"


def data_dir() -> Path:
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("midibridge", appauthor=False))


def default_db_path() -> Path:
    if os.environ.get(ENV_DB):
        return Path(os.environ[ENV_DB]).expanduser()
    return data_dir() / "library"


def models_dir() -> Path:
    """The shipped models live inside the package; users may point elsewhere."""
    if os.environ.get(ENV_MODELS):
        return Path(os.environ[ENV_MODELS]).expanduser()
    return ASSETS_DIR / "models"


def bundled_library_dir() -> Path:
    return ASSETS_DIR / "library"


def examples_dir() -> Path:
    return ASSETS_DIR / "examples"


def code_dot_model() -> Path:
    """The one-node integer-matmul graph search scores 8-bit codes with (bridge/library/code_dot.py); written by
    `python -m export.code_dot`. Not a trained model: it ships with the package, never from MIDIBRIDGE_MODELS."""
    return ASSETS_DIR / "kernels" / "code_dot.onnx"

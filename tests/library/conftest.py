"""Fixtures for library tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from library_helpers import copy_good_files


@pytest.fixture
def library_dir(tmp_path) -> Path:
    lib = tmp_path / "midi"
    copy_good_files(lib)
    return lib


@pytest.fixture
def db_dir(tmp_path) -> Path:
    return tmp_path / "db"


@pytest.fixture(scope="session")
def shipped_encoder():
    """The shipped retrieval encoders, loaded once; tests that need them skip when no model is shipped."""
    from bridge.inference import RetrievalEncoders

    try:
        return RetrievalEncoders.load()
    except (FileNotFoundError, OSError) as e:
        pytest.skip(f"no shipped retrieval model: {e}")

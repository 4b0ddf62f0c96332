import os

import pytest
from retrieval_corpus import build_tiny_corpus

# The text tower is the packaged MiniLM; a test must never reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TINY_MODEL = ["--d-model", "64", "--n-layers", "2", "--n-heads", "2", "--d-ff", "128", "--max-len", "128"]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    return build_tiny_corpus(tmp_path_factory.mktemp("retrieval_corpus"), n_tunes=30)

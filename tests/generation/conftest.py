"""Tiny generation models and data shared by the tests (built once per session, seconds on one thread)."""

from __future__ import annotations

import json

import pytest
from gen_toys import toy_song

from bridge.generation.encoding import song_to_dict


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("gendata")
    with (d / "songs.jsonl").open("w") as f:
        for i in range(24):
            song = toy_song(tonic=(i * 5) % 12, mode=("major", "minor")[i % 2], meter=("4/4", "3/4", "6/8")[i % 3],
                            seed=i)
            split = "valid" if i % 6 == 0 else "train"
            f.write(json.dumps({"id": f"toy/{i}", "collection": "toy", "split": split, "licence": "test",
                                "song": song_to_dict(song)}) + "\n")
    return d


TINY = {"d_model": 32, "n_layer": 2, "n_head": 2, "d_ff": 64, "dropout": 0.0}


@pytest.fixture(scope="session")
def tiny_exported(tmp_path_factory, toy_data):
    """Train both tiny models a few steps, export to ONNX (with parity reports); returns (dir, reports)."""
    pytest.importorskip("torch")
    from export.generation import export_all
    from models.generation.train import train

    runs = tmp_path_factory.mktemp("genruns")
    train("backbone", toy_data, runs / "bb", minutes=5, config=TINY, batch=4, max_len=64, max_steps=4)
    train("melody", toy_data, runs / "mel", minutes=5, config={**TINY, "seg_len": 16, "mem_len": 24}, batch=4,
          max_len=96, max_steps=4)
    out = runs / "onnx"
    reports = export_all(runs / "bb" / "ckpt.pt", runs / "mel" / "ckpt.pt", out)
    return out, reports, runs

"""The library's model key names the embedding space of the *stored* vectors: a new text tower over the same MIDI
tower keeps every indexed vector; a new MIDI tower (or its tokenizer or config) makes them stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.inference.retrieval import RetrievalEncoders, default_model_dir
from bridge.library.types import model_key


class _DirOnly:  # an encoder that says nothing of its files: every file of its folder counts
    def __init__(self, model_dir: Path):
        self.model_dir, self.name = model_dir, "m"


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(default_model_dir(), out)
    return out


def _append(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"\0")


def test_a_new_text_tower_keeps_the_key_a_new_midi_tower_changes_it(model_copy):
    enc = RetrievalEncoders.load(model_copy)  # the key reads the files again each time it is asked
    before = model_key(enc)
    _append(model_copy / enc.text_cfg.file)  # a re-exported text tower
    (model_copy / "MODEL_CARD.md").write_text("edited")
    assert model_key(enc) == before
    for name in ("midi_encoder.json", enc.midi_cfg.file, enc.midi_cfg.tokenizer):
        saved = (model_copy / name).read_bytes()
        _append(model_copy / name)
        assert model_key(enc) != before, name
        (model_copy / name).write_bytes(saved)
    assert model_key(enc) == before


def test_without_vector_files_every_file_of_the_folder_counts(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"1")
    key = model_key(_DirOnly(tmp_path))
    (tmp_path / "b.txt").write_text("x")
    assert model_key(_DirOnly(tmp_path)) != key

import numpy as np
import pytest

from models.corpus.kern import KernUnsupported, read_kern
from models.corpus.scores import load_score
from models.corpus.sources import music21_corpus_root


def _notes(piece):
    n = piece.notes
    return sorted(zip(np.round(n.start, 3), n.pitch.tolist(), np.round(n.duration, 3), n.track.tolist()))


def test_kern_reader_matches_music21_on_a_palestrina_movement():
    path = music21_corpus_root() / "palestrina" / "Agnus_01.krn"
    fast, key = read_kern(path)
    slow, _ = load_score(path, 52)
    assert [x[:3] for x in _notes(fast)] == [x[:3] for x in _notes(slow)]
    assert str(fast.time_signatures[0]) == "4/2"
    assert (key.tonic_pc, key.mode) == (7, "mixolydian")  # *G:mix
    assert set(fast.notes.program.tolist()) == {52}


def test_kern_reader_refuses_spine_splits(tmp_path):
    path = tmp_path / "split.krn"
    path.write_text("**kern\n*M4/4\n4c\n*^\n4d\t4e\n*v\t*v\n*-\n")
    with pytest.raises(KernUnsupported):
        read_kern(path)

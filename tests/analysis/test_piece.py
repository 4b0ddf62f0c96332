"""analyze_piece on the bundled chorale and on clips cut from it, as the corpus builder uses it."""

import json

import pytest
from analysis_music import abc_tune

from bridge.analysis import PieceAnalysis, analyze_piece
from bridge.music import load_midi


def test_chorale_analysis(chorale_path):
    a = analyze_piece(load_midi(chorale_path))
    assert isinstance(a, PieceAnalysis)
    assert a.key.name == "F# minor"
    assert (a.tempo_bpm, a.tempo_word) == (96.0, "Andante")
    assert a.instruments[0].note_count >= a.instruments[-1].note_count
    assert a.chords and all(c.duration > 0 for c in a.chords)
    # Starts and ends are ordered and never overlap.
    for prev, nxt in zip(a.chords, a.chords[1:]):
        assert prev.start + prev.duration <= nxt.start + 1e-9
    # It ends on the tonic, with its Picardy third, after a plagal iv - I.
    assert a.progression[-2:] == ("iv", "I")
    assert a.chords[-1].symbol == "F#"
    assert a.progression == tuple(p for i, p in enumerate(a.progression) if i == 0 or a.progression[i - 1] != p)


def test_to_dict_is_json_ready(chorale_path):
    d = analyze_piece(load_midi(chorale_path)).to_dict()
    back = json.loads(json.dumps(d))
    assert back["key"]["name"] == "F# minor"
    assert back["time_signature"] == "4/4"
    assert set(back["chords"][0]) == {
        "start",
        "duration",
        "root_pc",
        "quality",
        "bass_pc",
        "inversion",
        "symbol",
        "roman",
    }
    assert back["progression"] == list(analyze_piece(load_midi(chorale_path)).progression)


@pytest.mark.parametrize("bars", [(0, 4), (4, 8), (2, 6)])
def test_clips_of_the_chorale(chorale_path, bars):
    piece = load_midi(chorale_path)
    start, stop = piece.bar_starts()[bars[0]], piece.bar_starts()[bars[1]]
    a = analyze_piece(piece.window(start, stop))
    assert 3.0 <= a.bars <= 4.0
    assert a.texture == "homophonic"
    assert a.chords


def test_folk_tune_gets_chords_per_half_bar():
    piece = abc_tune("oneills1850/0001-0050.abc", 2).without_key_signatures()  # Fare You Well, D major
    a = analyze_piece(piece)
    assert a.texture == "monophonic"
    assert a.key.name == "D major"
    assert a.instruments[0].family == "piano"
    # A major-key tune harmonised mostly by its primary triads.
    primary = sum(c.duration for c in a.chords if c.roman.rstrip("7") in ("I", "IV", "V"))
    assert primary / sum(c.duration for c in a.chords) > 0.5


def test_without_chords(chorale_path):
    a = analyze_piece(load_midi(chorale_path), with_chords=False)
    assert a.chords == () and a.progression == ()


def test_pieces_without_pitched_notes():
    from bridge.music import NoteList, Piece

    empty = analyze_piece(Piece(notes=NoteList.empty()))
    assert (empty.bars, empty.seconds, empty.chords, empty.instruments) == (0.0, 0.0, (), ())
    groove = NoteList.from_tuples([(i * 0.5, 0.1, 36 + (i % 3) * 2) for i in range(16)], is_drum=True)
    a = analyze_piece(Piece(notes=groove))
    assert a.key.confidence == 0.0  # no key to speak of: consumers should not caption one
    assert [i.family for i in a.instruments] == ["drums"]
    assert a.chords == () and a.note_density > 0

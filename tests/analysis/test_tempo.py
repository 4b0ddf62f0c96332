"""The global tempo: the tempo that governs most of the music, not the one a final chord holds longest."""

from pathlib import Path

import numpy as np
import pytest
from analysis_music import make_piece, melody

from bridge.analysis import analyze_piece
from bridge.analysis.tempo import main_tempo, weighted_median
from bridge.music import NoteList, Piece, TempoChange, load_midi

DATA = Path(__file__).parent / "data"


def test_bwv846_prelude_is_not_largo():
    # The real notes of the C major prelude with a performer's tempo map: a tempo event every beat
    # around 75, a ritardando over the last two bars and the final chord held at 27 (make_fixtures.py).
    piece = load_midi(DATA / "bwv846_prelude.mid")
    assert min(t.bpm for t in piece.tempos) == pytest.approx(27.0, abs=0.01)
    a = analyze_piece(piece, with_chords=False)
    assert 70.0 <= a.tempo_bpm <= 80.0
    assert a.tempo_word in ("Adagio", "Andante")


def _piece(tempos, notes) -> Piece:
    return Piece(notes=NoteList.from_tuples(notes), tempos=tuple(TempoChange(t, b) for t, b in tempos))


def test_short_final_ritardando_and_fermata_do_not_win():
    # 30 bars of eighth notes at 120, a two-bar ritardando, then one whole-note chord held at 30 BPM.
    notes = [(i * 0.5, 0.5, 60 + i % 8) for i in range(30 * 8)]
    notes += [(120 + i * 0.5, 0.5, 60 + i % 8) for i in range(16)]
    notes += [(128.0, 4.0, p) for p in (48, 60, 64, 67)]
    rit = [(120.0 + b, 110.0 - 8 * b) for b in range(8)]
    piece = _piece([(0.0, 120.0), *rit, (128.0, 30.0)], notes)
    assert main_tempo(piece) == 120.0


def test_held_chord_lasting_longer_than_the_music_still_loses():
    # Four bars of quarter notes at 90; the final chord is held for eight bars at 40 BPM.
    notes = [(float(i), 1.0, 60 + i % 5) for i in range(16)] + [(16.0, 32.0, 48)]
    assert main_tempo(_piece([(0.0, 90.0), (16.0, 40.0)], notes)) == 90.0


def test_drifting_tempo_gives_its_middle():
    rng = np.random.default_rng(0)
    bpms = 100.0 + rng.uniform(-6, 6, size=64).round(2)
    tempos = [(float(i), float(b)) for i, b in enumerate(bpms)]
    notes = [(i * 0.25, 0.25, 60 + i % 7) for i in range(64 * 4)]
    assert main_tempo(_piece(tempos, notes)) == pytest.approx(float(np.median(bpms)), abs=0.5)


def test_the_section_with_most_notes_governs():
    # A slow introduction of 8 half notes at 60, then 32 bars of eighths at 132.
    notes = [(i * 2.0, 2.0, 60) for i in range(8)] + [(16 + i * 0.5, 0.5, 62 + i % 5) for i in range(32 * 8)]
    assert main_tempo(_piece([(0.0, 60.0), (16.0, 132.0)], notes)) == 132.0


def test_chords_count_once_and_constant_tempo_is_kept():
    piece = make_piece(melody([60, 64, 67, 72]), bpm=96.0)
    assert main_tempo(piece) == 96.0
    # One block chord of 12 notes at 50 does not outvote 4 melody notes at 100.
    chord = [(0.0, 4.0, 48 + i) for i in range(12)]
    tune = [(4.0 + i, 1.0, 72 + i) for i in range(4)]
    assert main_tempo(_piece([(0.0, 50.0), (4.0, 100.0)], chord + tune)) == 100.0


def test_no_notes_and_no_tempo_map():
    assert main_tempo(Piece(notes=NoteList.empty(), tempos=(TempoChange(0.0, 80.0),))) == 80.0
    assert main_tempo(Piece(notes=NoteList.empty(), tempos=())) == 120.0


def test_weighted_median():
    assert weighted_median(np.array([27.0, 75.0, 74.0]), np.array([1.0, 11.0, 8.0])) == 75.0
    assert weighted_median(np.array([60.0, 120.0]), np.array([1.0, 3.0])) == 120.0

from pathlib import Path

import pytest

from bridge.analysis import analyze_piece
from bridge.library.windows import span_for_bars, window_keys, window_spans
from bridge.music import NoteList, Piece, TimeSignature, load_midi


def _piece(bars: int, numerator: int = 4) -> Piece:
    q = numerator  # quarters per bar of n/4
    notes = NoteList.from_tuples([(b * q + i, 1.0, 60 + i) for b in range(bars) for i in range(numerator)])
    return Piece(notes, time_signatures=(TimeSignature(0.0, numerator, 4),))


def test_short_piece_is_one_window():
    assert [(s.start_bar, s.end_bar) for s in window_spans(_piece(5))] == [(0, 5)]
    assert [(s.start_bar, s.end_bar) for s in window_spans(_piece(11))] == [(0, 11)]


def test_long_piece_windows_overlap_and_cover_the_tail():
    spans = window_spans(_piece(18, numerator=3))
    assert [(s.start_bar, s.end_bar) for s in spans] == [(0, 8), (4, 12), (8, 16), (10, 18)]
    assert spans[1].start_q == 12.0 and spans[1].stop_q == 36.0  # 3/4 bars are 3 quarters
    assert spans[-1].stop_q == 54.0


def test_bars_option_is_one_based_and_inclusive():
    span = span_for_bars(_piece(16), 5, 8)
    assert (span.start_bar, span.end_bar, span.start_q, span.stop_q) == (4, 8, 16.0, 32.0)
    assert span_for_bars(_piece(6), 5, 99).end_bar == 6  # clipped to the piece
    with pytest.raises(ValueError, match="has 6 bars"):
        span_for_bars(_piece(6), 7, 8)


RAG = Path(__file__).resolve().parents[1] / "analysis" / "data" / "maple_leaf_rag.mid"


def test_windows_carry_the_key_of_their_section():
    # Maple Leaf Rag (real notes, repeats expanded): the trio from bar 67 is in Db, the rest in Ab.
    piece = load_midi(RAG)
    spans = window_spans(piece)
    keys = window_keys(piece, spans)
    by_window = {(s.start_bar + 1, s.end_bar): k.name for s, k in zip(spans, keys)}
    assert by_window[(1, 8)] == "Ab major"
    assert by_window[(73, 80)] == by_window[(81, 88)] == "Db major"  # inside the trio
    assert by_window[(109, 116)] == "Ab major"  # the D strain, back home
    assert {k.name for k in keys} == {"Ab major", "Db major"}
    # The sections from analyze_piece give the same answer without analysing again.
    assert window_keys(piece, spans, analyze_piece(piece, with_chords=False).key_sections) == keys


def test_windows_of_a_one_key_piece_share_its_key(chorale_path):
    piece = load_midi(chorale_path)
    spans = window_spans(piece)
    assert {k.name for k in window_keys(piece, spans)} == {analyze_piece(piece, with_chords=False).key.name}
    # 24 bars of a C major tune, 5 windows; some windows alone end on G (a half cadence), all are C major.
    line = [60, 64, 67, 72, 71, 67, 65, 62, 64, 60, 62, 67, 65, 69, 67, 71]
    notes = NoteList.from_tuples([(i, 1.0, line[i % 16]) for i in range(24 * 4 - 4)] + [(92.0, 4.0, 48)])
    tune = Piece(notes, time_signatures=(TimeSignature(0.0, 4, 4),))
    spans = window_spans(tune)
    assert len(spans) == 5
    assert {k.name for k in window_keys(tune, spans)} == {"C major"}

import pytest

from bridge.library.windows import span_for_bars, window_spans
from bridge.music import NoteList, Piece, TimeSignature


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

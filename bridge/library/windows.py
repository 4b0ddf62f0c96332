"""Cutting a piece into overlapping bar windows, so that a section of a long file can be found, and the key
each window is in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.analysis.key import KeyEstimate
from bridge.analysis.modulation import KeySection, key_at, key_sections
from bridge.music import Piece

WINDOW_BARS = 8
HOP_BARS = 4


@dataclass(frozen=True)
class Span:
    start_bar: int  # 0-based index of the first bar
    end_bar: int  # exclusive
    start_q: float
    stop_q: float


def window_spans(piece: Piece, window_bars: int = WINDOW_BARS, hop_bars: int = HOP_BARS) -> list[Span]:
    """Windows of `window_bars` bars every `hop_bars` bars.

    A piece shorter than one window plus one hop is a single window (a 9-bar piece cut into bars 1-8
    and 2-9 would only return the same music twice). The last window is aligned to the end of the
    piece so the tail is never a short remnant that embeds poorly.
    """
    end = piece.end
    starts = piece.bar_starts(until=end)
    bounds = np.append(starts, max(end, float(starts[-1]) + 1e-6))
    n_bars = len(starts)
    if n_bars < window_bars + hop_bars:
        return [Span(0, n_bars, 0.0, float(bounds[-1]))]
    firsts = list(range(0, n_bars - window_bars + 1, hop_bars))
    if firsts[-1] != n_bars - window_bars:
        firsts.append(n_bars - window_bars)
    return [Span(b, b + window_bars, float(bounds[b]), float(bounds[b + window_bars])) for b in firsts]


def span_for_bars(piece: Piece, first_bar: int, last_bar: int) -> Span:
    """The span of 1-based inclusive bars `first_bar..last_bar` (for `search --like x.mid --bars 5-8`)."""
    starts = piece.bar_starts(until=piece.end)
    n_bars = len(starts)
    if first_bar < 1 or last_bar < first_bar:
        raise ValueError(f"bar range must be 1 <= first <= last, got {first_bar}-{last_bar}")
    if first_bar > n_bars:
        raise ValueError(f"the piece has {n_bars} bars; bar {first_bar} does not exist")
    last_bar = min(last_bar, n_bars)
    bounds = np.append(starts, max(piece.end, float(starts[-1]) + 1e-6))
    return Span(first_bar - 1, last_bar, float(bounds[first_bar - 1]), float(bounds[last_bar]))


def window_keys(piece: Piece, spans: list[Span], sections: tuple[KeySection, ...] | None = None) -> list[KeyEstimate]:
    """The key of each window: the key of the piece's key section that covers most of it.

    A window of a rag's trio is in the trio's key and the rest in the tonic. An 8-bar window judged on its
    own notes is often wrong (a strain that stops on a half cadence reads as the dominant key); its
    section is heard over many bars, so windows of one stretch of music agree. `sections` is
    `analyze_piece(piece).key_sections` when the caller has it.
    """
    if sections is None:
        sections = key_sections(piece)
    return [key_at(sections, span.start_q, span.stop_q) for span in spans]

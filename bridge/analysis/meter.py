"""Bars and beats of a piece: the grids that chords and durations are measured on."""

from __future__ import annotations

import numpy as np

from bridge.music import Piece, TimeSignature

COMPOUND_NUMERATORS = (6, 9, 12)


def beat_quarters(ts: TimeSignature) -> float:
    """Length of one beat: a dotted quarter in 6/8, 9/8, 12/8; otherwise the denominator's note."""
    if ts.denominator >= 8 and ts.numerator in COMPOUND_NUMERATORS:
        return 3 * 4.0 / ts.denominator
    return 4.0 / ts.denominator


def main_time_signature(piece: Piece) -> TimeSignature:
    """The time signature in force for the longest stretch of the piece."""
    sigs = sorted(piece.time_signatures, key=lambda s: s.time) or [TimeSignature(0.0, 4, 4)]
    end = max(piece.end, sigs[-1].time)
    spans: dict[tuple[int, int], float] = {}
    for sig, nxt in zip(sigs, [s.time for s in sigs[1:]] + [end]):
        key = (sig.numerator, sig.denominator)
        spans[key] = spans.get(key, 0.0) + max(nxt - sig.time, 0.0)
    if not any(spans.values()):
        return sigs[0]
    num, den = max(spans, key=lambda k: spans[k])
    return TimeSignature(0.0, num, den)


def bar_count(piece: Piece) -> float:
    """Bars up to the end of the last note; the last bar counts by the fraction that sounds."""
    end = piece.end
    if end <= 0:
        return 0.0
    starts = piece.bar_starts(until=end)
    last = float(starts[-1])
    length = piece.time_signature_at(last).bar_quarters
    return float(len(starts) - 1 + min(1.0, (end - last) / length))


def subdivided_bar_grid(piece: Piece, per_bar: str = "beat") -> np.ndarray:
    """Window edges (quarters) from 0 to the end: one window per beat, half bar or bar.

    Every bar start is an edge, so windows never straddle a barline even after meter changes or pickups.
    """
    end = piece.end
    if end <= 0:
        return np.zeros(1)
    starts = piece.bar_starts(until=end)
    edges: list[np.ndarray] = []
    for i, bar_start in enumerate(starts):
        ts = piece.time_signature_at(float(bar_start))
        bar_end = float(starts[i + 1]) if i + 1 < len(starts) else bar_start + ts.bar_quarters
        step = _step(ts, per_bar)
        edges.append(np.arange(bar_start, bar_end - 1e-9, step))
    grid = np.concatenate(edges)
    return np.append(grid[grid < end - 1e-9], end)


def _step(ts: TimeSignature, per_bar: str) -> float:
    bar = ts.bar_quarters
    if per_bar == "bar":
        return bar
    beat = beat_quarters(ts)
    if per_bar == "half_bar":
        # Halve only bars of four beats or more: a 2/4 or 6/8 bar is already one harmonic step in folk tunes.
        beats = round(bar / beat)
        return bar / 2 if beats % 2 == 0 and beats >= 4 else bar
    return beat

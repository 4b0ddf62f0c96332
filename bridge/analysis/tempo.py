"""Tempo: the representative BPM of a piece and its traditional Italian word."""

from __future__ import annotations

import numpy as np

from bridge.music import Piece

# (word, lowest BPM) in quarter notes per minute; each word runs up to the next word's lowest BPM.
TEMPO_WORDS: tuple[tuple[str, float], ...] = (
    ("Largo", 0.0),
    ("Larghetto", 60.0),
    ("Adagio", 66.0),
    ("Andante", 76.0),
    ("Moderato", 108.0),
    ("Allegretto", 114.0),
    ("Allegro", 120.0),
    ("Vivace", 156.0),
    ("Presto", 176.0),
)


def tempo_word(bpm: float) -> str:
    """'Andante' for 96 BPM; the ranges are documented in docs/analysis.md."""
    word = TEMPO_WORDS[0][0]
    for name, low in TEMPO_WORDS:
        if bpm >= low:
            word = name
    return word


def tempo_range(word: str) -> tuple[float, float]:
    """The [low, high) BPM range of a tempo word (high is inf for Presto)."""
    for i, (name, low) in enumerate(TEMPO_WORDS):
        if name.lower() == word.lower():
            high = TEMPO_WORDS[i + 1][1] if i + 1 < len(TEMPO_WORDS) else float("inf")
            return low, high
    raise ValueError(f"unknown tempo word {word!r}; known: {', '.join(n for n, _ in TEMPO_WORDS)}")


def main_tempo(piece: Piece) -> float:
    """The tempo in force for the longest time (quarters) of the piece; the first tempo if there are no notes."""
    tempos = sorted(piece.tempos, key=lambda t: t.time)
    if not tempos:
        return 120.0
    end = max(piece.end, tempos[-1].time)
    times = np.array([t.time for t in tempos] + [end])
    spans = np.clip(np.diff(times), 0.0, None)
    if spans.sum() <= 0:
        return float(tempos[0].bpm)
    by_bpm: dict[float, float] = {}
    for t, span in zip(tempos, spans):
        by_bpm[round(t.bpm, 2)] = by_bpm.get(round(t.bpm, 2), 0.0) + float(span)
    return float(max(by_bpm, key=lambda b: by_bpm[b]))

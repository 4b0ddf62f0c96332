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
    """The tempo that governs most of the music: the median of the tempo in force at each note played.

    Every distinct onset time (a chord counts once) votes for the tempo in force there, and the answer
    is the weighted median of those tempos. A held final chord, a fermata or a closing ritardando plays
    few notes, so it cannot win however many seconds or quarters it lasts; a sequenced performance whose
    tempo drifts on every beat gets its middle, not whichever value happens to repeat. Without notes,
    the tempo in force for the most quarters; without a tempo map, 120.
    """
    tempos = sorted(piece.tempos, key=lambda t: t.time)
    if not tempos:
        return 120.0
    times = np.array([t.time for t in tempos])
    bpms = np.array([t.bpm for t in tempos], dtype=np.float64)
    onsets = np.unique(np.round(piece.notes.start, 6)) if len(piece.notes) else np.zeros(0)
    if len(onsets):
        index = np.clip(np.searchsorted(times, onsets + 1e-9, side="right") - 1, 0, len(tempos) - 1)
        weights = np.bincount(index, minlength=len(tempos)).astype(np.float64)
    else:
        end = max(piece.end, float(times[-1]))
        weights = np.clip(np.diff(np.append(times, end)), 0.0, None)
    if weights.sum() <= 0:
        return float(bpms[0])
    return weighted_median(bpms, weights)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The lowest value at which the cumulative weight reaches half of the total."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2.0 - 1e-12)])

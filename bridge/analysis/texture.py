"""Texture from simultaneity and rhythmic independence of the pitched notes."""

from __future__ import annotations

import numpy as np

from bridge.music import NoteList

TEXTURES = ("monophonic", "homophonic", "polyphonic")

# Share of sounding time with two or more notes below which a line counts as one voice (overlaps of legato).
MONOPHONIC_MAX_OVERLAP = 0.1
# Share of notes attacked together with another note above which the voices move as chords.
HOMOPHONIC_MIN_SYNC = 0.6


def polyphony_share(notes: NoteList) -> float:
    """Fraction of the sounding time during which at least two pitched notes sound."""
    pitched = notes.pitched()
    if len(pitched) == 0:
        return 0.0
    times = np.concatenate([pitched.start, pitched.end])
    deltas = np.concatenate([np.ones(len(pitched)), -np.ones(len(pitched))])
    # Ends sort before starts at equal times, so back-to-back notes never count as overlapping.
    order = np.lexsort((deltas, times))
    times, active = times[order], np.cumsum(deltas[order])
    spans = np.diff(times)
    sounding = spans[active[:-1] >= 1].sum()
    several = spans[active[:-1] >= 2].sum()
    return float(several / sounding) if sounding > 0 else 0.0


def onset_sync(notes: NoteList, tolerance: float = 1 / 48) -> float:
    """Fraction of pitched notes whose attack coincides with another note's attack."""
    pitched = notes.pitched()
    if len(pitched) < 2:
        return 0.0
    grid = np.round(pitched.start / tolerance).astype(np.int64)
    _, inverse, counts = np.unique(grid, return_inverse=True, return_counts=True)
    return float((counts[inverse] >= 2).mean())


def classify_texture(notes: NoteList) -> str:
    if polyphony_share(notes) < MONOPHONIC_MAX_OVERLAP:
        return "monophonic"
    return "homophonic" if onset_sync(notes) >= HOMOPHONIC_MIN_SYNC else "polyphonic"

"""Small descriptors of register and loudness: words for ranges of numbers."""

from __future__ import annotations

import numpy as np

from bridge.music import NoteList

# Duration-weighted mean pitch below LOW is "low", at or above HIGH is "high" (MIDI 52 = E3, 72 = C5).
REGISTER_LOW_BELOW = 52.0
REGISTER_HIGH_FROM = 72.0

# Upper velocity bound (exclusive) of each dynamic: midpoints between the usual notation velocities
# pp 33, p 49, mp 64, mf 80, f 96, ff 112.
DYNAMICS: tuple[tuple[str, float], ...] = (
    ("pp", 41.0),
    ("p", 57.0),
    ("mp", 72.0),
    ("mf", 88.0),
    ("f", 104.0),
    ("ff", float("inf")),
)


def mean_pitch(notes: NoteList) -> float:
    pitched = notes.pitched()
    if len(pitched) == 0:
        return 0.0
    return float(np.average(pitched.pitch, weights=pitched.duration))


def register_word(pitch: float) -> str:
    if pitch < REGISTER_LOW_BELOW:
        return "low"
    return "high" if pitch >= REGISTER_HIGH_FROM else "mid"


def mean_velocity(notes: NoteList) -> float:
    return float(notes.velocity.mean()) if len(notes) else 0.0


def dynamics_word(velocity: float) -> str:
    for word, upper in DYNAMICS:
        if velocity < upper:
            return word
    return DYNAMICS[-1][0]

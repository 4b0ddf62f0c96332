"""The chord qualities we recognise: intervals above the root, and how each is written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quality:
    name: str
    intervals: tuple[int, ...]  # chord tones above the root in inversion order: root, third, fifth[, seventh]
    suffix: str  # chord symbol suffix: "m" in "Am"
    minor_case: bool  # Roman numeral in lowercase
    roman_mark: str  # written after the numeral: "°", "ø", "+", "M", "sus4"

    @property
    def is_seventh(self) -> bool:
        return len(self.intervals) == 4


QUALITIES: tuple[Quality, ...] = (
    Quality("major", (0, 4, 7), "", False, ""),
    Quality("minor", (0, 3, 7), "m", True, ""),
    Quality("diminished", (0, 3, 6), "dim", True, "°"),
    Quality("augmented", (0, 4, 8), "aug", False, "+"),
    Quality("sus2", (0, 2, 7), "sus2", False, "sus2"),
    Quality("sus4", (0, 5, 7), "sus4", False, "sus4"),
    Quality("dominant7", (0, 4, 7, 10), "7", False, ""),
    Quality("major7", (0, 4, 7, 11), "maj7", False, "M"),
    Quality("minor7", (0, 3, 7, 10), "m7", True, ""),
    Quality("half-diminished7", (0, 3, 6, 10), "m7b5", True, "ø"),
    Quality("diminished7", (0, 3, 6, 9), "dim7", True, "°"),
)
QUALITY_BY_NAME = {q.name: q for q in QUALITIES}
QUALITY_NAMES = tuple(q.name for q in QUALITIES)


def template_matrix() -> np.ndarray:
    """(len(QUALITIES) * 12, 12) binary templates; row q * 12 + root."""
    rows = np.zeros((len(QUALITIES) * 12, 12))
    for qi, q in enumerate(QUALITIES):
        for root in range(12):
            rows[qi * 12 + root, [(root + i) % 12 for i in q.intervals]] = 1.0
    return rows


def chord_tones(root_pc: int, quality: str) -> tuple[int, ...]:
    return tuple((root_pc + i) % 12 for i in QUALITY_BY_NAME[quality].intervals)


def inversion_of(root_pc: int, quality: str, bass_pc: int) -> int:
    """0 root position, 1 first (third in the bass), 2 second, 3 third; 0 when the bass is not a chord tone."""
    tones = chord_tones(root_pc, quality)
    return tones.index(bass_pc % 12) if bass_pc % 12 in tones else 0

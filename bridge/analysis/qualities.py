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


# ---------------------------------------------------------------- scales and the chords native to a key
# The one theory table: analysis (chord recognition, implied harmony) and generation (labelling training
# pairs, key biases, the texture layer) read these; nothing else defines a scale or a key's chords.

MAJOR_SCALE: tuple[int, ...] = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE: tuple[int, ...] = (0, 2, 3, 5, 7, 8, 10)
# What "in the key" means for a minor tune: the natural minor plus the raised leading tone (harmonic minor's V).
MINOR_SCALE: tuple[int, ...] = (0, 2, 3, 5, 7, 8, 10, 11)
SCALES: dict[str, tuple[int, ...]] = {"major": MAJOR_SCALE, "minor": MINOR_SCALE}


def scale_pcs(tonic_pc: int, mode: str) -> frozenset[int]:
    """Pitch classes of the key (minor: natural minor plus the leading tone)."""
    return frozenset((tonic_pc + i) % 12 for i in SCALES["major" if mode == "major" else "minor"])


@dataclass(frozen=True)
class KeyChord:
    """A chord native to a mode: its root as semitones above the tonic and its quality.

    `implied` is the prior with which a bare melody implies it (None: never implied by a melody alone);
    the implied chords are also the ones a melody-only tune is labelled with when training generation."""

    interval: int
    quality: str
    implied: float | None = None


# Harmonic minor's V and vii° included; order is irrelevant (each entry is a set member with a prior).
KEY_CHORDS: dict[str, tuple[KeyChord, ...]] = {
    "major": (KeyChord(0, "major", 0.12), KeyChord(2, "minor", 0.03), KeyChord(4, "minor", 0.0),
              KeyChord(5, "major", 0.07), KeyChord(7, "major", 0.09), KeyChord(9, "minor", 0.03),
              KeyChord(11, "diminished"), KeyChord(7, "dominant7", 0.06), KeyChord(2, "minor7"),
              KeyChord(11, "half-diminished7"), KeyChord(0, "major7"), KeyChord(5, "major7"),
              KeyChord(4, "minor7"), KeyChord(9, "minor7")),
    "minor": (KeyChord(0, "minor", 0.12), KeyChord(2, "diminished"), KeyChord(3, "major", 0.04),
              KeyChord(5, "minor", 0.07), KeyChord(7, "major", 0.08), KeyChord(8, "major", 0.03),
              KeyChord(11, "diminished"), KeyChord(10, "major", 0.03), KeyChord(7, "dominant7", 0.05),
              KeyChord(11, "diminished7"), KeyChord(2, "half-diminished7"), KeyChord(5, "minor7"),
              KeyChord(3, "major7"), KeyChord(8, "major7"), KeyChord(7, "minor")),
}  # fmt: skip


def diatonic_chords(tonic_pc: int, mode: str, implied_only: bool = False) -> list[tuple[int, str]]:
    """(root pc, quality name) of the chords native to the key; `implied_only`: those a melody implies."""
    mode = "major" if mode == "major" else "minor"
    return [((tonic_pc + c.interval) % 12, c.quality) for c in KEY_CHORDS[mode]
            if not implied_only or c.implied is not None]


def tonic_quality(mode: str) -> str:
    return "major" if mode == "major" else "minor"


def secondary_dominant(target_root_pc: int) -> tuple[int, str]:
    """V7 of a chord: the dominant seventh a fifth above its root (V7/V = II7)."""
    return (target_root_pc + 7) % 12, "dominant7"


def seventh_of(root_pc: int, quality: str, tonic_pc: int, mode: str) -> str:
    """The diatonic seventh chord a triad grows into in this key: V -> dominant7, ii -> minor7, IV -> major7...

    Returns `quality` unchanged when the key has no seventh chord on that root over that triad."""
    triad = QUALITY_BY_NAME[quality].intervals[:3]
    for c in KEY_CHORDS["major" if mode == "major" else "minor"]:
        q = QUALITY_BY_NAME[c.quality]
        if q.is_seventh and (tonic_pc + c.interval) % 12 == root_pc % 12 and q.intervals[:3] == triad:
            return c.quality
    return quality
